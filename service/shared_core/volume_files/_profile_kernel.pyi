"""The C kernel's one function; `profile_scan.scan_levels` is its reference."""

def scan(
    keys: list[int],
    vals: list[int],
    total: int,
    num: int,
    den: int,
    ref: int | None,
    max_levels: int,
    /,
) -> tuple[int, int, int, int, list[int], list[int], int]: ...
