using System.Globalization;

namespace GpuAD;

/// <summary>Python's general float format <c>'{:.Ng}'</c>, for scikit-learn's reprs.</summary>
internal static class PythonFormat
{
    /// <summary>
    /// <c>format(value, '.{digits}g')</c>: correctly rounded to <paramref name="digits"/> significant
    /// digits; scientific (<c>1.23e+05</c>, <c>1e-05</c>) when the decimal exponent is below −4 or at
    /// least <paramref name="digits"/>, else positional; trailing zeros and a trailing point removed.
    /// </summary>
    public static string G(double value, int digits)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        if (value == 0) return double.IsNegative(value) ? "-0" : "0";
        var inv = CultureInfo.InvariantCulture;
        string e = value.ToString("E" + (digits - 1), inv);           // -d.ddE+ddd, correctly rounded
        int ePos = e.IndexOf('E');
        int exponent = int.Parse(e.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, inv);
        if (exponent < -4 || exponent >= digits)
        {
            string mantissa = StripZeros(e[..ePos]);
            return $"{mantissa}e{(exponent < 0 ? '-' : '+')}{Math.Abs(exponent):00}";
        }
        return StripZeros(value.ToString("F" + (digits - 1 - exponent), inv));
    }

    private static string StripZeros(string s) => s.Contains('.') ? s.TrimEnd('0').TrimEnd('.') : s;
}
