//! Whole entries, each with the Python parser's exact outcome (the expected values were
//! produced by `ticks.parse_entry`; tests/unit/test_native_ticks.py compares the two at random).

use super::*;

fn tick(
    symbol: &str,
    price: f64,
    ts_ms: i64,
    volume: Option<i64>,
    cumulative_volume: Option<i64>,
    oi: Option<i64>,
    underlying_price: Option<f64>,
) -> Parsed {
    let symbol = symbol.to_owned();
    Parsed::Tick(Tick {
        symbol,
        price,
        ts_ms,
        volume,
        cumulative_volume,
        oi,
        underlying_price,
    })
}

fn invalid(reason: &'static str, error: &str) -> Parsed {
    Parsed::Invalid {
        reason,
        error: error.to_owned(),
    }
}

/// Debug output tells -0.0 from 0.0 and shows every float digit.
fn check(fields: &[(&[u8], &[u8])], want: Parsed) {
    assert_eq!(
        format!("{:?}", parse_entry(fields)),
        format!("{want:?}"),
        "{fields:?}"
    );
}

#[test]
#[rustfmt::skip]
fn python_outcomes() {
    check(&[(b"symbol", b"SBIN"), (b"price", b"612.35"), (b"volume", b"150"), (b"timestamp", b"2025-12-09T10:00:00.250")], tick("SBIN", 612.35, 1765254600250, Some(150), None, None, None));
    check(&[(b"symbol", b"SBIN"), (b"price", b"612.40"), (b"volume_traded", b"1843200"), (b"timestamp", b"1765254600250")], tick("SBIN", 612.4, 1765254600250, None, Some(1843200), None, None));
    check(&[(b"data", b"{\"tradingsymbol\":\"NIFTY25DECFUT\",\"last_price\":25910.5,\"last_traded_quantity\":75,\"volume_traded\":812325,\"exchange_timestamp\":\"2025-12-09 10:00:00\"}")], tick("NIFTY25DECFUT", 25910.5, 1765254600000, Some(75), Some(812325), None, None));
    check(&[(b"data", b"{\"tradingsymbol\":\"NIFTY25DECFUT\",\"last_price\":25910.5,\"last_quantity\":75,\"average_price\":25890.1,\"volume\":812325,\"timestamp\":\"2025-12-09T10:00:00\"}")], tick("NIFTY25DECFUT", 25910.5, 1765254600000, Some(75), Some(812325), None, None));
    check(&[(b"data", b"{\"tradable\":true,\"mode\":\"full\",\"instrument_token\":12345,\"tradingsymbol\":\"NIFTY25JAN25000CE\",\"last_price\":120.5,\"last_traded_quantity\":75,\"average_traded_price\":118.2,\"volume_traded\":1234500,\"total_buy_quantity\":1,\"total_sell_quantity\":3,\"ohlc\":{\"open\":100,\"high\":130,\"low\":99,\"close\":101},\"change\":-1.25,\"last_trade_time\":\"2025-01-10 09:59:59\",\"oi\":56000,\"oi_day_high\":57000,\"oi_day_low\":50000,\"exchange_timestamp\":\"2025-01-10 10:00:00\",\"depth\":{\"buy\":[{\"price\":120.4,\"quantity\":75,\"orders\":1},{\"price\":120.4,\"quantity\":75,\"orders\":1},{\"price\":120.4,\"quantity\":75,\"orders\":1},{\"price\":120.4,\"quantity\":75,\"orders\":1},{\"price\":120.4,\"quantity\":75,\"orders\":1}],\"sell\":[{\"price\":120.55,\"quantity\":150,\"orders\":2},{\"price\":120.55,\"quantity\":150,\"orders\":2},{\"price\":120.55,\"quantity\":150,\"orders\":2},{\"price\":120.55,\"quantity\":150,\"orders\":2},{\"price\":120.55,\"quantity\":150,\"orders\":2}]}}")], tick("NIFTY25JAN25000CE", 120.5, 1736483400000, Some(75), Some(1234500), Some(56000), None));
    check(&[(b"data", b"{\"tradingsymbol\":\"NIFTY25DECFUT\",\"last_price\":25910.5,\"last_quantity\":75,\"average_price\":25890.1,\"volume\":812325,\"buy_quantity\":5,\"sell_quantity\":7,\"timestamp\":\"2025-12-09T10:00:00\"}")], tick("NIFTY25DECFUT", 25910.5, 1765254600000, Some(75), Some(812325), None, None));
    check(&[(b"tradingsymbol", b"INFY"), (b"last_price", b"2.5"), (b"exchange_timestamp", b"2025-12-22T10:00:00"), (b"last_traded_quantity", b"3")], tick("INFY", 2.5, 1766377800000, Some(3), None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"cumulative_volume", b"900"), (b"oi", b"1500")], tick("X", 1.0, 1766377800000, None, Some(900), Some(1500), None));
    check(&[(b"symbol", b"NIFTY25JAN25000CE"), (b"price", b"120.5"), (b"timestamp", b"2025-12-22T10:00:00"), (b"underlying_price", b"24950.35")], tick("NIFTY25JAN25000CE", 120.5, 1766377800000, None, None, None, Some(24950.35)));
    check(&[(b"symbol", b"A"), (b"tradingsymbol", b"B"), (b"price", b"1"), (b"last_price", b"2"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"5"), (b"last_traded_quantity", b"6"), (b"volume_traded", b"70"), (b"cumulative_volume", b"80")], tick("A", 1.0, 1766377800000, Some(5), Some(70), None, None));
    check(&[(b"symbol", b"S"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"average_price", b"1"), (b"volume", b"900"), (b"volume_traded", b"1000"), (b"last_traded_quantity", b"3")], tick("S", 1.0, 1766377800000, Some(3), Some(1000), None, None));
    check(&[(b"symbol", b"S"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"last_quantity", b"4"), (b"volume", b"900")], tick("S", 1.0, 1766377800000, Some(4), Some(900), None, None));
    check(&[(b"symbol", b"X"), (b"price", b"7"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"500.0"), (b"oi", b" 500 ")], tick("X", 7.0, 1766377800000, Some(500), None, Some(500), None));
    check(&[(b"symbol", b"X"), (b"price", b"0.05"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"5e2")], tick("X", 0.05, 1766377800000, Some(500), None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":3500,\"volume\":500.0,\"oi\":\"12\",\"timestamp\":\"2025-12-22T10:00:00\"}")], tick("X", 3500.0, 1766377800000, Some(500), None, Some(12), None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":\"3500.5\",\"cumulative_volume\":\"12000\",\"timestamp\":\"2025-12-22T10:00:00\"}")], tick("X", 3500.5, 1766377800000, None, Some(12000), None, None));
    check(&[(b"symbol", b"FLAT"), (b"volume", b"7"), (b"data", b"{\"symbol\":\"JSON\",\"price\":10.5,\"timestamp\":\"2025-12-22T10:00:00\"}")], tick("JSON", 10.5, 1766377800000, Some(7), None, None, None));
    check(&[(b"symbol", b"FLAT"), (b"price", b"3"), (b"data", b"{\"symbol\":\"\",\"price\":null,\"timestamp\":\"2025-12-22T10:00:00\"}")], tick("FLAT", 3.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"5"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b""), (b"oi", b"")], tick("X", 5.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22 10:00:00")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00.250")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22 10:00:00.123456")], tick("X", 1.0, 1766377800123, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22")], tick("X", 1.0, 1766341800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T04:30:00Z")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T04:30:00.5Z")], tick("X", 1.0, 1766377800500, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00+05:30")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22 10:00:00.250+05:30")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-21T23:00:00-05:30")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b" 2025-12-22T10:00:00 ")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800.25")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800250")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800250.0")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0")], tick("X", 1.0, 0, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"exchange_timestamp\":1766377800}")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"exchange_timestamp\":1766377800.25}")], tick("X", 1.0, 1766377800250, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"exchange_timestamp\":1766377800000}")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"exchange_timestamp\":1766377800000.0}")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"exchange_timestamp\":\"2025-12-22T10:00:00Z\"}")], tick("X", 1.0, 1766397600000, None, None, None, None));
    check(&[(b"symbol", b"  nifty50 "), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("nifty50", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"M&M"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("M&M", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"NSE:NIFTY25JAN2450.5CE"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("NSE:NIFTY25JAN2450.5CE", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"exchange", b"NSE"), (b"mode", b"full")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("missing_field", "price: required (price or last_price)"));
    check(&[(b"symbol", b"X"), (b"price", b"1")], invalid("missing_field", "timestamp: required (timestamp or exchange_timestamp)"));
    check(&[(b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("missing_field", "symbol: required (symbol or tradingsymbol)"));
    check(&[(b"symbol", b"   "), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("missing_field", "symbol: required (symbol or tradingsymbol)"));
    check(&[(b"data", b"{\"symbol\":null,\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("missing_field", "symbol: required (symbol or tradingsymbol)"));
    check(&[(b"symbol", b"X"), (b"price", b"abc"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("invalid_number", "price: not a number: 'abc'"));
    check(&[(b"symbol", b"X"), (b"price", b"1_0"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("invalid_number", "price: not a number: '1_0'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"lots")], invalid("invalid_number", "volume: not a number: 'lots'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"9223372036854775808")], invalid("invalid_number", "volume: too large: '9223372036854775808'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"oi", b"1e19")], invalid("invalid_number", "oi: too large: '1e19'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":true,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("invalid_number", "price: not a number: True"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\",\"volume\":false}")], invalid("invalid_number", "volume: not a number: False"));
    check(&[(b"symbol", b"X"), (b"price", b"inf"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("non_finite", "price: must be finite, got 'inf'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"nan")], invalid("non_finite", "volume: must be finite, got 'nan'"));
    check(&[(b"symbol", b"X"), (b"price", b"0"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("non_positive", "price: must be > 0, got '0'"));
    check(&[(b"symbol", b"X"), (b"price", b"-3"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("non_positive", "price: must be > 0, got '-3'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":-1.5,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("non_positive", "price: must be > 0, got -1.5"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":0,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("non_positive", "price: must be > 0, got 0"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"underlying_price", b"0.0")], invalid("non_positive", "underlying_price: must be > 0, got '0.0'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"-1")], invalid("negative_volume", "volume: must be >= 0, got '-1'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"oi", b"-5.5")], invalid("negative_volume", "oi: must be >= 0, got '-5.5'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\",\"volume\":-5}")], invalid("negative_volume", "volume: must be >= 0, got -5"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"volume", b"1.5")], invalid("non_integer_volume", "volume: must be a whole number, got '1.5'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\",\"oi\":500.5}")], invalid("non_integer_volume", "oi: must be a whole number, got 500.5"));
    check(&[(b"symbol", b"S"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00"), (b"last_quantity", b"1"), (b"volume", b"1.5")], invalid("non_integer_volume", "volume: must be a whole number, got '1.5'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"yesterday")], invalid("bad_timestamp", "timestamp: not ISO 8601 or epoch: 'yesterday'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"exchange_timestamp", b"soon")], invalid("bad_timestamp", "exchange_timestamp: not ISO 8601 or epoch: 'soon'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b" ")], invalid("bad_timestamp", "timestamp: not ISO 8601 or epoch: ' '"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-13-01T00:00:00")], invalid("bad_timestamp", "timestamp: not ISO 8601 or epoch: '2025-13-01T00:00:00'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T25:00:00")], invalid("bad_timestamp", "timestamp: not ISO 8601 or epoch: '2025-12-22T25:00:00'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1969-12-31T23:59:59Z")], invalid("bad_timestamp", "timestamp: outside 1970..9999: '1969-12-31T23:59:59Z'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"9999-12-31T23:59:59-12:00")], invalid("bad_timestamp", "timestamp: outside 1970..9999: '9999-12-31T23:59:59-12:00'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"-1766377800")], invalid("bad_timestamp", "timestamp: outside 1970..9999: '-1766377800'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800000000")], invalid("bad_timestamp", "timestamp: outside 1970..9999: '1766377800000000'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"nan")], invalid("bad_timestamp", "timestamp: not a finite number: 'nan'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":1000000000000000000}")], invalid("bad_timestamp", "timestamp: outside 1970..9999: 1000000000000000000"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":true}")], invalid("bad_timestamp", "timestamp: expected ISO 8601 or epoch number, got True"));
    check(&[(b"symbol", b"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("symbol_too_long", "symbol: 65 chars, limit 64"));
    check(&[(b"symbol", b"A B"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], tick("A B", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"A  B"), (b"price", b"1"), (b"timestamp", b"0")], invalid("bad_symbol", "symbol: whitespace other than single spaces, or a control character, in 'A  B'"));
    check(&[(b"symbol", b"A\tB"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("bad_symbol", "symbol: whitespace other than single spaces, or a control character, in 'A\\tB'"));
    check(&[(b"tradingsymbol", b"A\x00B"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00")], invalid("bad_symbol", "tradingsymbol: whitespace other than single spaces, or a control character, in 'A\\x00B'"));
    check(&[(b"data", b"{\"symbol\":123,\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("bad_symbol", "symbol: must be a string, got int"));
    check(&[(b"data", b"{\"tradingsymbol\":[\"X\"],\"price\":1,\"timestamp\":\"2025-12-22T10:00:00\"}")], invalid("bad_symbol", "tradingsymbol: must be a string, got list"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"2025-12-22T10:00:00.123999")], tick("X", 1.0, 1766377800123, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1766377800.0005")], tick("X", 1.0, 1766377800000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0.0005")], tick("X", 1.0, 0, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0.0015")], tick("X", 1.0, 2, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"-0.0004")], tick("X", 1.0, 0, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"99999999999")], tick("X", 1.0, 99999999999000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"100000000000")], tick("X", 1.0, 100000000000, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"253402280999999")], tick("X", 1.0, 253402280999999, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"253402281000000")], invalid("bad_timestamp", "timestamp: outside 1970..9999: '253402281000000'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"9999-12-31T23:59:59.999")], tick("X", 1.0, 253402280999999, None, None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"-inf")], invalid("bad_timestamp", "timestamp: not a finite number: '-inf'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"1_766_377_800")], invalid("bad_timestamp", "timestamp: not ISO 8601 or epoch: '1_766_377_800'"));
    check(&[(b"symbol", b"X"), (b"price", b"1e400"), (b"timestamp", b"0")], invalid("non_finite", "price: must be finite, got '1e400'"));
    check(&[(b"symbol", b"X"), (b"price", b"-inf"), (b"timestamp", b"0")], invalid("non_finite", "price: must be finite, got '-inf'"));
    check(&[(b"symbol", b"X"), (b"price", b"1e-400"), (b"timestamp", b"0")], invalid("non_positive", "price: must be > 0, got '1e-400'"));
    check(&[(b"symbol", b"X"), (b"price", b"it's"), (b"timestamp", b"0")], invalid("invalid_number", "price: not a number: \"it's\""));
    check(&[(b"symbol", b"X"), (b"price", b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), (b"timestamp", b"0")], invalid("invalid_number", "price: not a number: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"9223372036854775807")], tick("X", 1.0, 0, Some(9223372036854775807), None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"9223372036854775808")], invalid("invalid_number", "volume: too large: '9223372036854775808'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"-99999999999999999999999")], invalid("negative_volume", "volume: must be >= 0, got '-99999999999999999999999'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"9223372036854775807.0")], invalid("invalid_number", "volume: too large: '9223372036854775807.0'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"-0")], tick("X", 1.0, 0, Some(0), None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"-0.0")], tick("X", 1.0, 0, Some(0), None, None, None));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"inf")], invalid("non_finite", "volume: must be finite, got 'inf'"));
    check(&[(b"symbol", b"X"), (b"price", b"1"), (b"timestamp", b"0"), (b"volume", b"1_0")], invalid("invalid_number", "volume: not a number: '1_0'"));
    check(&[(b"symbol", b" \x1cX\x1f "), (b"price", b"1"), (b"timestamp", b"0")], tick("X", 1.0, 0, None, None, None, None));
    check(&[(b"symbol", b"A\x7f"), (b"price", b"1"), (b"timestamp", b"0")], invalid("bad_symbol", "symbol: whitespace other than single spaces, or a control character, in 'A\\x7f'"));
    check(&[(b"symbol", b"A 'B"), (b"price", b"1"), (b"timestamp", b"0")], tick("A 'B", 1.0, 0, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"A\\\"B\",\"price\":1,\"timestamp\":0}")], tick("A\"B", 1.0, 0, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"A\\u0009B\",\"price\":1,\"timestamp\":0}")], invalid("bad_symbol", "symbol: whitespace other than single spaces, or a control character, in 'A\\tB'"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":-0.0,\"timestamp\":0}")], invalid("non_positive", "price: must be > 0, got -0.0"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":-0,\"timestamp\":0}")], invalid("non_positive", "price: must be > 0, got 0"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":0,\"volume\":1e19}")], invalid("invalid_number", "volume: too large: 1e+19"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":0,\"volume\":-1e-300}")], invalid("negative_volume", "volume: must be >= 0, got -1e-300"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":1e300}")], invalid("bad_timestamp", "timestamp: outside 1970..9999: 1e+300"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"timestamp\":1766377800.0015}")], tick("X", 1.0, 1766377800002, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":9007199254740993,\"timestamp\":0}")], tick("X", 9007199254740992.0, 0, None, None, None, None));
    check(&[(b"data", b"{\"symbol\":1.5,\"price\":1,\"timestamp\":0}")], invalid("bad_symbol", "symbol: must be a string, got float"));
    check(&[(b"data", b"{\"symbol\":true,\"price\":1,\"timestamp\":0}")], invalid("bad_symbol", "symbol: must be a string, got bool"));
    check(&[(b"data", b"{\"symbol\":{},\"price\":1,\"timestamp\":0}")], invalid("bad_symbol", "symbol: must be a string, got dict"));
    check(&[(b"data", b"{\"symbol\":\"X\",\"price\":1,\"price\":2,\"timestamp\":0}")], tick("X", 2.0, 0, None, None, None, None));
    check(&[(b"symbol", b"F"), (b"data", b"{\"symbol\":\"\",\"price\":1,\"timestamp\":0}")], tick("F", 1.0, 0, None, None, None, None));
    check(&[(b"symbol", b"F"), (b"data", b"{\"symbol\":\"A\",\"symbol\":null,\"price\":1,\"timestamp\":0}")], tick("F", 1.0, 0, None, None, None, None));
    check(&[(b"symbol", b"F"), (b"data", b"{\"data\":{\"symbol\":\"Z\"},\"price\":1,\"timestamp\":0}")], tick("F", 1.0, 0, None, None, None, None));
}

const BASE: [(&[u8], &[u8]); 3] = [
    (b"symbol", b"X"),
    (b"price", b"1"),
    (b"timestamp", b"2025-12-22T10:00:00"),
];

#[test]
fn payload_limit_counts_keys_and_values() {
    let used: usize = BASE.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + 3;
    let fits = vec![b'x'; MAX_PAYLOAD_BYTES - used];
    let mut fields = BASE.to_vec();
    fields.push((b"pad", &fits));
    assert!(matches!(parse_entry(&fields), Parsed::Tick(_)));
    let over = vec![b'x'; MAX_PAYLOAD_BYTES - used + 1];
    fields[3] = (b"pad", &over);
    check(
        &fields,
        invalid("payload_too_large", "payload: 8193 bytes, limit 8192"),
    );
    // Checked before anything else, and with `data` counted.
    let doc = [b"{".as_slice(), &[b' '; 9000]].concat();
    check(
        &[(b"data", &doc)],
        invalid("payload_too_large", "payload: 9005 bytes, limit 8192"),
    );
}

#[test]
fn repeated_fields_defer_where_they_matter() {
    let mut fields = BASE.to_vec();
    fields.push((b"price", b"2"));
    check(&fields, Parsed::Defer); // redis-py's dict keeps the last price
    let mut fields = BASE.to_vec();
    fields.extend([(b"x".as_slice(), b"1".as_slice()), (b"x", b"2")]);
    assert!(matches!(parse_entry(&fields), Parsed::Tick(_))); // an unknown key: no effect
    let pad = vec![b'x'; MAX_PAYLOAD_BYTES];
    fields.push((b"x", &pad));
    check(&fields, Parsed::Defer); // the dict would count one "x"
}

#[test]
fn defers_what_it_cannot_be_sure_of() {
    let ts: &[u8] = b"2025-12-22T10:00:00";
    for fields in [
        [
            (b"symbol".as_slice(), "NIFTY\u{a0}".as_bytes()),
            (b"price", b"1"),
            (b"timestamp", ts),
        ],
        [(b"symbol", b"AB\xff"), (b"price", b"1"), (b"timestamp", ts)],
        [
            (b"symbol", b"X"),
            (b"price", "\u{661}".as_bytes()),
            (b"timestamp", ts),
        ],
        [(b"symbol", b"X"), (b"price", b"\x1c1"), (b"timestamp", ts)],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"timestamp", b"20251222T100000"),
        ],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"timestamp", b"-1e306"),
        ],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"timestamp", b"2025-12-22T10:00:00,5"),
        ],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"timestamp", b"2025-12-22T24:00:00"),
        ],
        [(b"symbol", b"X"), (b"price", b"1"), (b"data", b"{not json")],
        [(b"symbol", b"X"), (b"price", b"1"), (b"data", b"[1, 2]")],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"data", br#"{"timestamp": [0]}"#),
        ],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"data", br#"{"timestamp": "\u0030"}"#),
        ],
        [
            (b"symbol", b"X"),
            (b"price", b"1"),
            (b"data", br#"{"symbol": "\u00e9"}"#),
        ],
        [
            (b"symbol", b"X"),
            (b"timestamp", ts),
            (b"data", br#"{"price": 1e400}"#),
        ],
        [
            (b"symbol", b"X"),
            (b"timestamp", ts),
            (b"data", br#"{"price": 18446744073709551615}"#),
        ],
        [
            (b"symbol", b"X"),
            (b"timestamp", ts),
            (b"data", br#"{"price": {"v": 1}}"#),
        ],
    ] {
        check(&fields, Parsed::Defer);
    }
}

#[test]
fn slot_knows_every_name_and_nothing_else() {
    for (at, name) in NAMES.iter().enumerate() {
        assert_eq!(slot(name.as_bytes()), Some(at));
    }
    assert_eq!(slot(b"data"), Some(DATA));
    for other in [
        &b""[..],
        b"Symbol",
        b"symbol ",
        b"volumes",
        b"o",
        b"dat",
        b"exchange",
    ] {
        assert_eq!(slot(other), None);
    }
}

#[test]
fn instrument_tokens_resolve_through_the_master() {
    let master: std::collections::HashMap<i64, &str> = [(256265, "NIFTY 50")].into();
    let entry: &[(&[u8], &[u8])] = &[
        (b"instrument_token", b"256265"),
        (b"last_price", b"1"),
        (b"timestamp", b"0"),
    ];
    assert_eq!(
        format!("{:?}", parse_entry_with(entry, &master, None)),
        format!("{:?}", tick("NIFTY 50", 1.0, 0, None, None, None, None))
    );
    assert_eq!(
        format!("{:?}", parse_entry(entry)),
        format!(
            "{:?}",
            invalid(
                "unknown_instrument",
                "instrument_token: token 256265 is not in an instruments master (none is loaded)"
            )
        )
    );
    let other: std::collections::HashMap<i64, &str> = [(1, "X")].into();
    assert_eq!(
        format!("{:?}", parse_entry_with(entry, &other, None)),
        format!(
            "{:?}",
            invalid(
                "unknown_instrument",
                "instrument_token: token 256265 is not in the instruments master"
            )
        )
    );
    let negative: &[(&[u8], &[u8])] = &[
        (b"instrument_token", b"-5"),
        (b"last_price", b"1"),
        (b"timestamp", b"0"),
    ];
    assert_eq!(
        format!("{:?}", parse_entry_with(negative, &master, None)),
        format!(
            "{:?}",
            invalid(
                "negative_volume",
                "instrument_token: must be >= 0, got '-5'"
            )
        )
    );
    // A symbol wins over the token.
    let both: &[(&[u8], &[u8])] = &[
        (b"symbol", b"SBIN"),
        (b"instrument_token", b"256265"),
        (b"price", b"1"),
        (b"timestamp", b"0"),
    ];
    assert_eq!(
        format!("{:?}", parse_entry_with(both, &master, None)),
        format!("{:?}", tick("SBIN", 1.0, 0, None, None, None, None))
    );
}

#[test]
fn the_entry_time_dates_a_tick_without_a_timestamp() {
    let master: std::collections::HashMap<i64, &str> = [(256265, "NIFTY 50")].into();
    let quote: &[(&[u8], &[u8])] = &[(
        b"data",
        b"{\"instrument_token\": 256265, \"last_price\": 24000.5}",
    )];
    assert_eq!(
        format!(
            "{:?}",
            parse_entry_with(quote, &master, Some(1766377800123))
        ),
        format!(
            "{:?}",
            tick("NIFTY 50", 24000.5, 1766377800123, None, None, None, None)
        )
    );
    assert_eq!(
        format!("{:?}", parse_entry_with(quote, &master, None)),
        format!(
            "{:?}",
            invalid(
                "missing_field",
                "timestamp: required (timestamp or exchange_timestamp)"
            )
        )
    );
    assert_eq!(
        format!("{:?}", parse_entry_with(quote, &master, Some(-1))),
        format!(
            "{:?}",
            invalid(
                "bad_timestamp",
                "timestamp: entry time outside 1970..9999: -1"
            )
        )
    );
}
