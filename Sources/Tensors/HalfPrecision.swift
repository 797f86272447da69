/// Conversions between fp32 and the 16-bit formats safetensors files use.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits → Float (exact: every half value is a float).
    @inline(__always)
    public static func float(fromHalf bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int(bits >> 10) & 0x1f
        let mantissa = UInt32(bits & 0x3ff)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1f:
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }

    /// Float → binary16 bits, rounding to nearest even; overflow becomes infinity.
    public static func half(fromFloat value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xff)
        let mantissa = bits & 0x7f_ffff
        if exponent == 0xff { return sign | 0x7c00 | (mantissa != 0 ? 0x200 : 0) }
        let unbiased = exponent - 127
        if unbiased > 15 { return sign | 0x7c00 }
        if unbiased >= -14 {
            // Normal half: keep 10 mantissa bits, round the 13 dropped ones to nearest even.
            var half = UInt32(unbiased + 15) << 10 | (mantissa >> 13)
            let rest = mantissa & 0x1fff
            if rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1) { half += 1 }
            return sign | UInt16(half)  // a carry into the exponent is still correct (may reach inf)
        }
        if unbiased < -25 { return sign }
        // Subnormal half: value / 2^-24 rounded to nearest even.
        let full = mantissa | 0x80_0000
        let shift = UInt32(-unbiased - 1)  // 14 + (−14 − unbiased) − ... aligns to 2^-24 units
        let quotient = full >> shift
        let remainder = full & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        var result = quotient
        if remainder > halfway || (remainder == halfway && (quotient & 1) == 1) { result += 1 }
        return sign | UInt16(result)
    }

    /// Float → bfloat16 bits, rounding to nearest even; NaN stays NaN.
    public static func bfloat(fromFloat value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7fff + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}
