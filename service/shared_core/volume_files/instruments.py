"""Symbols and instruments: is a stream symbol an equity, an index, a future or an option, and when
does it expire? Baselines need it (F&O multipliers use days to expiry and moneyness).

An instruments master (Kite's CSV dump) is authoritative when given; otherwise the symbol is
parsed. Parsing never raises for a symbol that passed tick validation: what it cannot read is a
plain equity (or an index, when listed in `indices`).

Forms, after an optional exchange prefix (`NSE:`, `NFO:`, `BSE:`, `BFO:`, or `NSE`/`NFO`
without a colon), matched case-insensitively:

    NIFTY25JAN25000CE      monthly option: YY MON strike CE|PE  expiry = calendar.monthly_expiry
    NIFTY25JANFUT          future: YY MON FUT                   expiry = calendar.monthly_expiry
    NIFTY2510925000CE      weekly option: YY M DD strike        expiry = that date, as written
                           (M = 1-9 for Jan-Sep, O/N/D for Oct-Dec)
    NSENIFTY27JAN25000CE   legacy day-month: DD MON strike      expiry = the first DD MON on or
                                                                after `as_of` (never in the past)

Strikes may be decimal (`RELIANCE25JAN2450.5CE`). Monthly expiries use the NSE calendar rule; an
index or exchange with other expiry days (BSE SENSEX/BANKEX, MCX) needs the master for exact dates.

Ambiguity policy: `NIFTY27JAN25000CE` reads as year 2027 or as day 27. `ambiguous` decides:
- "auto" (default): the colon-less `NSE` prefix marks the legacy day-month form
  (`NSENIFTY27JAN25000CE` = 27 January); every other spelling is year-month (Kite's form).
- "day" / "year": always read the two digits as the day / the year.
When the chosen reading is impossible (day 32, 30 FEB), the other reading is used.

A weekly form's date starts at the first digit, or right after a listed index whose name ends in
digits (NIFTYNXT50); an impossible date (day 32) leaves the symbol a plain equity.
Instrument.symbol is always the symbol exactly as it appeared on the stream; an equity's
underlying is the symbol without a colon prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from .market_clock import MarketCalendar

AMBIGUOUS_POLICIES = ("auto", "day", "year")
DEFAULT_TICK_SIZE = 0.05


class InstrumentKind(StrEnum):
    EQUITY = "equity"
    INDEX = "index"
    FUTURE = "future"
    OPTION = "option"


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str  # the symbol exactly as it appears on the stream
    underlying: str  # e.g. "NIFTY", "RELIANCE"
    kind: InstrumentKind
    expiry: date | None = None
    strike: float | None = None
    option_type: str | None = None  # "CE" | "PE"
    tick_size: float = DEFAULT_TICK_SIZE
    lot_size: int | None = None

    @property
    def is_fno(self) -> bool:
        return self.kind is InstrumentKind.FUTURE or self.kind is InstrumentKind.OPTION


# fmt: off
DEFAULT_INDICES: frozenset[str] = frozenset(
    {
        # Derivative underlyings and their common stream names
        "NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX", "BANKEX",
        "SENSEX50", "INDIA VIX", "INDIAVIX", "NIFTY50", "NIFTYBANK",
        # Kite index tradingsymbols (segment INDICES)
        "NIFTY 50", "NIFTY BANK", "NIFTY FIN SERVICE", "NIFTY MID SELECT", "NIFTY NEXT 50",
        "NIFTY 100", "NIFTY 200", "NIFTY 500", "NIFTY MIDCAP 50", "NIFTY MIDCAP 100",
        "NIFTY SMLCAP 100", "NIFTY IT", "NIFTY AUTO", "NIFTY PHARMA", "NIFTY FMCG",
        "NIFTY METAL", "NIFTY REALTY", "NIFTY ENERGY", "NIFTY MEDIA", "NIFTY PSU BANK",
        "NIFTY PVT BANK", "NIFTY INFRA", "NIFTY COMMODITIES",
    }
)
# fmt: on

_MONTHS = {
    month: i + 1
    for i, month in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    )
}
_WEEKLY_MONTHS = {**{str(m): m for m in range(1, 10)}, "O": 10, "N": 11, "D": 12}
_COLON_PREFIXES = ("NSE:", "NFO:", "BSE:", "BFO:")
_PLAIN_PREFIXES = ("NSE", "NFO")
_MON = "|".join(_MONTHS)
_MONTHLY_OPTION = re.compile(rf"(.+?)(\d\d)({_MON})(\d+(?:\.\d+)?)(CE|PE)")
_FUTURE = re.compile(rf"(.+?)(\d\d)({_MON})FUT")
_STRIKE = re.compile(r"\d+(?:\.\d+)?")
_UNDERLYING = re.compile(r"[A-Z0-9][A-Z0-9&_-]*")


def parse_symbol(
    symbol: str,
    *,
    as_of: date,
    calendar: MarketCalendar,
    indices: frozenset[str] = DEFAULT_INDICES,
    ambiguous: str = "auto",
) -> Instrument:
    """Read an instrument from its symbol alone (see the module docstring for the forms)."""
    _check_policy(ambiguous)
    return _parse(symbol, as_of, calendar, indices, ambiguous)[0]


class InstrumentRegistry:
    """Master first, else parse_symbol; each symbol is resolved once and cached.

    A legacy day-month symbol depends on `as_of` (the year of its expiry), so its cached answer
    is re-resolved once `as_of` passes that expiry; every other answer is fixed.

    The master also maps Kite instrument tokens to stream symbols. `replace_master` swaps both
    in one step (the stream runtime calls it when a new master is imported into Redis); every
    engine sharing this registry sees the new master from its next lookup on.
    """

    def __init__(
        self,
        calendar: MarketCalendar,
        instruments: Iterable[Instrument] = (),
        *,
        tokens: Mapping[int, str] | None = None,
        indices: frozenset[str] = DEFAULT_INDICES,
        ambiguous: str = "auto",
    ) -> None:
        _check_policy(ambiguous)
        self.calendar = calendar
        self.indices = indices
        self.ambiguous = ambiguous
        master: dict[str, Instrument] = {}
        for instrument in instruments:
            master.setdefault(instrument.symbol, instrument)  # the first one wins
        self._master: Mapping[str, Instrument] = master
        self._tokens: Mapping[int, str] = dict(tokens or {})
        self._cache: dict[str, tuple[Instrument, date | None]] = {}

    def __len__(self) -> int:
        """Instruments in the master (keys, exchange-qualified ones included)."""
        return len(self._master)

    @property
    def tokens(self) -> Mapping[int, str]:
        """Kite instrument token -> stream symbol, for `ticks.parse_entry(tokens=...)`.

        Read it per batch, not once: `replace_master` installs a new mapping.
        """
        return self._tokens

    def symbol_for_token(self, token: int) -> str | None:
        return self._tokens.get(token)

    def replace_master(
        self, instruments: Mapping[str, Instrument], tokens: Mapping[int, str]
    ) -> None:
        """Adopt a new master: `instruments` is keyed as looked up (see instruments_master)."""
        self._master = instruments
        self._tokens = tokens
        self._cache = {}

    @classmethod
    def from_kite_csv(
        cls,
        text: str,
        calendar: MarketCalendar,
        *,
        indices: frozenset[str] = DEFAULT_INDICES,
        ambiguous: str = "auto",
    ) -> InstrumentRegistry:
        """A registry from the text of Kite's instruments dump, strictly: a bad row raises.

        Pure (the caller reads the file). Keys and tokens as `instruments_master.master_tables`
        gives them; the lenient reading that imports around bad rows is `parse_master`.
        """
        from .instruments_master import master_tables, parse_master  # it builds on this module

        try:
            parsed = parse_master(text, calendar)
        except ValueError as exc:
            raise ValueError(f"instruments CSV: {exc}") from None
        if parsed.problems:
            raise ValueError(f"instruments CSV {parsed.problems[0]}")
        registry = cls(calendar, indices=indices, ambiguous=ambiguous)
        tables = master_tables(parsed.rows)
        registry.replace_master(tables.instruments, tables.tokens)
        return registry

    def resolve(self, symbol: str, as_of: date) -> Instrument:
        cached = self._cache.get(symbol)
        if cached is not None and (cached[1] is None or as_of <= cached[1]):
            return cached[0]
        instrument = self._from_master(symbol)
        valid_until: date | None = None
        if instrument is None:
            instrument, depends_on_date = _parse(
                symbol, as_of, self.calendar, self.indices, self.ambiguous
            )
            if depends_on_date:
                valid_until = instrument.expiry
        self._cache[symbol] = (instrument, valid_until)
        return instrument

    def _from_master(self, symbol: str) -> Instrument | None:
        master = self._master
        if not master:
            return None
        found = master.get(symbol)
        if found is None:
            body, plain = _strip_prefix(symbol.strip())
            found = master.get(body) if body != symbol else None
            # Behind a colon-less prefix, Kite's "NIFTY27JAN25000CE" (January 2027) is not the
            # legacy "NSENIFTY27JAN25000CE" (27 January) unless the policy reads years.
            if found is not None and plain and found.is_fno and self.ambiguous != "year":
                found = None
        if found is None:
            return None
        return found if found.symbol == symbol else replace(found, symbol=symbol)


# -- parsing -----------------------------------------------------------------------------------


def _check_policy(ambiguous: str) -> None:
    if ambiguous not in AMBIGUOUS_POLICIES:
        raise ValueError(
            f"ambiguous: must be one of {', '.join(AMBIGUOUS_POLICIES)}, got {ambiguous!r}")


def _strip_prefix(text: str) -> tuple[str, str]:
    """(body, colon-less prefix or ""). A colon prefix is dropped and reported as ""."""
    upper = text[:4].upper()
    for prefix in _COLON_PREFIXES:
        if upper == prefix and len(text) > 4:
            return text[4:], ""
    for prefix in _PLAIN_PREFIXES:
        if upper[:3] == prefix and len(text) > 3:
            return text[3:], prefix
    return text, ""


def _parse(
    symbol: str, as_of: date, calendar: MarketCalendar, indices: frozenset[str], ambiguous: str
) -> tuple[Instrument, bool]:
    """The instrument, and whether the answer depends on `as_of` (legacy day-month form)."""
    text = symbol.strip()
    body, plain = _strip_prefix(text)
    for candidate, prefix in ((body, plain), (text, "")) if plain else ((body, ""),):
        upper = candidate.upper()
        if candidate in indices or upper in indices:
            underlying = candidate if candidate in indices else upper
            return Instrument(symbol, underlying, InstrumentKind.INDEX), False
        if upper.isascii():
            day_first = ambiguous == "day" or (ambiguous == "auto" and prefix == "NSE")
            parsed = _derivative(symbol, upper, day_first, as_of, calendar, indices)
            if parsed is not None:
                return parsed
    return Instrument(symbol, body if not plain else text, InstrumentKind.EQUITY), False


def _derivative(
    symbol: str,
    upper: str,
    day_first: bool,
    as_of: date,
    calendar: MarketCalendar,
    indices: frozenset[str],
) -> tuple[Instrument, bool] | None:
    if upper.endswith("FUT"):
        m = _FUTURE.fullmatch(upper)
        if m is None or not _is_underlying(m[1]):
            return None
        expiry, dated = _two_digit_expiry(int(m[2]), _MONTHS[m[3]], day_first, as_of, calendar)
        return Instrument(symbol, m[1], InstrumentKind.FUTURE, expiry), dated
    if not upper.endswith(("CE", "PE")):
        return None
    m = _MONTHLY_OPTION.fullmatch(upper)
    if m is not None and _is_underlying(m[1]) and float(m[4]) > 0:
        expiry, dated = _two_digit_expiry(int(m[2]), _MONTHS[m[3]], day_first, as_of, calendar)
        return _option(symbol, m[1], expiry, m[4], m[5]), dated
    return _weekly(symbol, upper, indices)


def _weekly(symbol: str, upper: str, indices: frozenset[str]) -> tuple[Instrument, bool] | None:
    core, option_type = upper[:-2], upper[-2:]
    for i in range(1, len(core) - 5):
        if core[i - 1].isdigit() and core[:i] not in indices:
            continue  # the date starts at the first digit, unless the name ends in digits
        yy, month, dd, strike = core[i : i + 2], core[i + 2], core[i + 3 : i + 5], core[i + 5 :]
        if not (yy.isdigit() and dd.isdigit() and month in _WEEKLY_MONTHS):
            continue
        if not (_STRIKE.fullmatch(strike) and float(strike) > 0 and _is_underlying(core[:i])):
            continue
        try:
            expiry = date(2000 + int(yy), _WEEKLY_MONTHS[month], int(dd))
        except ValueError:
            continue
        return _option(symbol, core[:i], expiry, strike, option_type), False
    return None


def _two_digit_expiry(
    nn: int, month: int, day_first: bool, as_of: date, calendar: MarketCalendar
) -> tuple[date, bool]:
    """(expiry, depends on as_of) for NN MON: NN as the day, else as the year."""
    if day_first:
        for year in range(as_of.year, as_of.year + 9):  # 9 years always holds a 29 Feb
            try:
                expiry = date(year, month, nn)
            except ValueError:
                continue
            if expiry >= as_of:
                return expiry, True
    return calendar.monthly_expiry(2000 + nn, month), False


def _option(symbol: str, underlying: str, expiry: date, strike: str, kind: str) -> Instrument:
    return Instrument(symbol, underlying, InstrumentKind.OPTION, expiry, float(strike), kind)


def _is_underlying(name: str) -> bool:
    return _UNDERLYING.fullmatch(name) is not None and not name.isdigit()
