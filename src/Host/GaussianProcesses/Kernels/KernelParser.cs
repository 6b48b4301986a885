using System.Globalization;

namespace GpuAD;

/// <summary>A malformed kernel expression: the message names the (one-based) column and what was expected there.</summary>
public sealed class KernelExpressionException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="column">One-based column in the expression.</param>
    /// <param name="problem">What is wrong there.</param>
    public KernelExpressionException(int column, string problem) : base($"kernel expression, column {column}: {problem}")
    {
        Column = column;
        Problem = problem;
    }

    /// <summary>One-based column in the expression.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the column.</summary>
    public string Problem { get; }
}

/// <summary>
/// A recursive-descent reader of scikit-learn's kernel reprs:
/// <code>
/// sum     = product { "+" product }
/// product = factor { "*" factor }
/// factor  = number [ "**" number ] | name "(" [ arg { "," arg } ] ")" | shorthand | "(" sum ")"
/// arg     = [ ident "=" ] value
/// value   = number [ "**" number ] | "[" number { "," number } "]" | "(" number "," number ")" | "fixed" (quoted)
/// </code>
/// </summary>
internal sealed class KernelParser
{
    private enum Kind { Number, Ident, String, Symbol, End }

    private readonly record struct Token(Kind Kind, string Text, int Column, double Number = 0);

    private readonly List<Token> tokens = [];
    private int position;

    // Each kernel's arguments in scikit-learn's constructor order.
    private static readonly Dictionary<string, string[]> Signatures = new()
    {
        ["ConstantKernel"] = ["constant_value", "constant_value_bounds"],
        ["RBF"] = ["length_scale", "length_scale_bounds"],
        ["Matern"] = ["length_scale", "length_scale_bounds", "nu"],
        ["RationalQuadratic"] = ["length_scale", "alpha", "length_scale_bounds", "alpha_bounds"],
        ["ExpSineSquared"] = ["length_scale", "periodicity", "length_scale_bounds", "periodicity_bounds"],
        ["DotProduct"] = ["sigma_0", "sigma_0_bounds"],
        ["WhiteKernel"] = ["noise_level", "noise_level_bounds"],
    };

    private static readonly Dictionary<string, StationaryKernel> Shorthands = new(StringComparer.OrdinalIgnoreCase)
    {
        ["rbf"] = StationaryKernel.Rbf,
        ["matern12"] = StationaryKernel.Matern12,
        ["matern32"] = StationaryKernel.Matern32,
        ["matern52"] = StationaryKernel.Matern52,
    };

    private KernelParser(string text) => Tokenize(text);

    public static Kernel Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        var parser = new KernelParser(expression);
        if (parser.Peek.Kind == Kind.End) throw new KernelExpressionException(1, "expected a kernel, found an empty expression");
        var kernel = parser.ParseSum();
        var rest = parser.Peek;
        if (rest.Kind != Kind.End) throw new KernelExpressionException(rest.Column, $"expected '+', '*' or the end after a kernel, found {Describe(rest)}");
        return kernel;
    }

    /// <summary>The kernel a shorthand names: c·k + White with unit hyperparameters (with <paramref name="ardDimensions"/>, one unit lengthscale per dimension).</summary>
    public static Kernel Shorthand(StationaryKernel function, int? ardDimensions = null)
    {
        double[] ones = Enumerable.Repeat(1.0, ardDimensions ?? 1).ToArray();
        Kernel k = function switch
        {
            StationaryKernel.Rbf => new RBF(ones),
            StationaryKernel.Matern12 => new Matern(ones, 0.5),
            StationaryKernel.Matern32 => new Matern(ones, 1.5),
            _ => new Matern(ones, 2.5),
        };
        return new ConstantKernel() * k + new WhiteKernel();
    }

    private Token Peek => tokens[position];

    private Token Next() => tokens[position++];

    private bool Accept(string symbol)
    {
        if (Peek.Kind != Kind.Symbol || Peek.Text != symbol) return false;
        position++;
        return true;
    }

    private Token Expect(string symbol, string after)
    {
        var t = Peek;
        if (t.Kind != Kind.Symbol || t.Text != symbol)
            throw new KernelExpressionException(t.Column, $"expected '{symbol}' after {after}, found {Describe(t)}");
        return Next();
    }

    private static string Describe(Token t) => t.Kind switch
    {
        Kind.End => "the end of the expression",
        Kind.String => $"the string '{t.Text}'",
        _ => $"'{t.Text}'",
    };

    private Kernel ParseSum()
    {
        var k = ParseProduct();
        while (Accept("+")) k = new KernelSum(k, ParseProduct());
        return k;
    }

    private Kernel ParseProduct()
    {
        var k = ParseFactor();
        while (Accept("*")) k = new KernelProduct(k, ParseFactor());
        return k;
    }

    private Kernel ParseFactor()
    {
        var t = Next();
        switch (t.Kind)
        {
            case Kind.Number:
                double c = t.Number;
                if (Accept("**"))
                {
                    var e = Next();
                    if (e.Kind != Kind.Number) throw new KernelExpressionException(e.Column, $"expected a number after '**', found {Describe(e)}");
                    c = e.Number == 2 ? c * c : Math.Pow(c, e.Number);
                }
                return Build(t, () => new ConstantKernel(c));
            case Kind.Ident:
                if (Peek.Kind == Kind.Symbol && Peek.Text == "(")
                {
                    if (!Signatures.ContainsKey(t.Text))
                        throw new KernelExpressionException(t.Column, $"unknown kernel '{t.Text}' (expected one of {string.Join(", ", Signatures.Keys)})");
                    return ParseCall(t);
                }
                if (Shorthands.TryGetValue(t.Text, out var function)) return Shorthand(function);
                if (Signatures.ContainsKey(t.Text)) throw new KernelExpressionException(Peek.Column, $"expected '(' after {t.Text}, found {Describe(Peek)}");
                throw new KernelExpressionException(t.Column, $"unknown kernel '{t.Text}' (expected a kernel such as RBF(length_scale=1), a number, or rbf, matern12, matern32, matern52)");
            case Kind.Symbol when t.Text == "(":
                var inner = ParseSum();
                Expect(")", "the parenthesized kernel");
                if (Peek.Kind == Kind.Symbol && Peek.Text == "**")
                    throw new KernelExpressionException(Peek.Column, "a kernel raised to a power (Exponentiation) is not supported");
                return inner;
            default:
                throw new KernelExpressionException(t.Column, $"expected a kernel, a number or '(', found {Describe(t)}");
        }
    }

    private sealed record Argument(string Name, int Column, double[]? Numbers, bool List, HyperparameterBounds? Bounds);

    private Kernel ParseCall(Token name)
    {
        Next(); // (
        var signature = Signatures[name.Text];
        var args = new Dictionary<string, Argument>();
        int positional = 0;
        if (!Accept(")"))
        {
            do
            {
                var start = Peek;
                string argName;
                if (start.Kind == Kind.Ident && tokens[position + 1] is { Kind: Kind.Symbol, Text: "=" })
                {
                    position += 2;
                    argName = start.Text;
                    if (Array.IndexOf(signature, argName) < 0)
                        throw new KernelExpressionException(start.Column, $"{name.Text} has no argument '{argName}' (expected {string.Join(", ", signature)})");
                    positional = int.MaxValue;
                }
                else
                {
                    if (positional == int.MaxValue) throw new KernelExpressionException(start.Column, $"expected a keyword argument after a keyword argument of {name.Text}, found {Describe(start)}");
                    if (positional >= signature.Length) throw new KernelExpressionException(start.Column, $"{name.Text} takes at most {signature.Length} arguments");
                    argName = signature[positional++];
                }
                if (args.ContainsKey(argName)) throw new KernelExpressionException(start.Column, $"{name.Text}: argument '{argName}' given twice");
                args[argName] = ParseValue(argName, name.Text);
            }
            while (Accept(","));
            Expect(")", $"the arguments of {name.Text}");
        }
        return Build(name, () => Construct(name.Text, args));
    }

    private Argument ParseValue(string argName, string kernel)
    {
        var t = Peek;
        bool isBounds = argName.EndsWith("_bounds", StringComparison.Ordinal);
        if (isBounds)
        {
            if (t.Kind == Kind.String)
            {
                Next();
                if (t.Text != "fixed") throw new KernelExpressionException(t.Column, $"expected \"fixed\" or (lower, upper) for {argName}, found {Describe(t)}");
                return new Argument(argName, t.Column, null, false, HyperparameterBounds.Fixed);
            }
            Expect("(", $"{argName}= (bounds are \"fixed\" or (lower, upper))");
            double lower = ExpectNumber($"'(' of {argName}");
            Expect(",", $"the lower bound of {argName}");
            double upper = ExpectNumber($"',' of {argName}");
            Expect(")", $"the upper bound of {argName}");
            try
            {
                return new Argument(argName, t.Column, null, false, new HyperparameterBounds(lower, upper));
            }
            catch (ArgumentException e)
            {
                throw new KernelExpressionException(t.Column, $"{kernel}: {argName}: {FirstLine(e.Message)}");
            }
        }
        if (Accept("["))
        {
            var values = new List<double> { ExpectNumber($"'[' of {argName}") };
            while (Accept(",")) values.Add(ExpectNumber($"',' in {argName}"));
            Expect("]", $"the values of {argName}");
            return new Argument(argName, t.Column, [.. values], true, null);
        }
        return new Argument(argName, t.Column, [ExpectNumber($"{argName}=")], false, null);
    }

    private double ExpectNumber(string after)
    {
        var t = Next();
        if (t.Kind != Kind.Number) throw new KernelExpressionException(t.Column, $"expected a number after {after}, found {Describe(t)}");
        if (!Accept("**")) return t.Number;
        // A power, as scikit-learn's gallery writes noise_level=0.1**2 (Python evaluates it).
        var e = Next();
        if (e.Kind != Kind.Number) throw new KernelExpressionException(e.Column, $"expected a number after '**', found {Describe(e)}");
        return e.Number == 2 ? t.Number * t.Number : Math.Pow(t.Number, e.Number);
    }

    private static Kernel Construct(string name, Dictionary<string, Argument> args)
    {
        double Scalar(string key, double fallback)
        {
            if (!args.TryGetValue(key, out var a)) return fallback;
            if (a.List && a.Numbers!.Length != 1) throw new KernelExpressionException(a.Column, $"{name}: {key} takes one value, found a list of {a.Numbers.Length}");
            return a.Numbers![0];
        }
        double[] Values(string key) => args.TryGetValue(key, out var a) ? a.Numbers! : [1.0];
        HyperparameterBounds? Bounds(string key) => args.TryGetValue(key + "_bounds", out var a) ? a.Bounds : null;
        return name switch
        {
            "ConstantKernel" => new ConstantKernel(Scalar("constant_value", 1), Bounds("constant_value")),
            "RBF" => new RBF(Values("length_scale"), Bounds("length_scale")),
            "Matern" => new Matern(Values("length_scale"), Scalar("nu", 1.5), Bounds("length_scale")),
            "RationalQuadratic" => new RationalQuadratic(Scalar("length_scale", 1), Scalar("alpha", 1), Bounds("length_scale"), Bounds("alpha")),
            "ExpSineSquared" => new ExpSineSquared(Scalar("length_scale", 1), Scalar("periodicity", 1), Bounds("length_scale"), Bounds("periodicity")),
            "DotProduct" => new DotProduct(Scalar("sigma_0", 1), Bounds("sigma_0")),
            _ => new WhiteKernel(Scalar("noise_level", 1), Bounds("noise_level")),
        };
    }

    // A kernel's constructor rejects a bad value with an ArgumentException: report it at the kernel's column.
    private static Kernel Build(Token at, Func<Kernel> make)
    {
        try
        {
            return make();
        }
        catch (ArgumentException e)
        {
            throw new KernelExpressionException(at.Column, FirstLine(e.Message));
        }
    }

    private static string FirstLine(string message)
    {
        int cut = message.IndexOf(" (Parameter", StringComparison.Ordinal);
        return (cut >= 0 ? message[..cut] : message).Split('\n')[0].Trim();
    }

    private void Tokenize(string s)
    {
        int i = 0;
        while (i < s.Length)
        {
            char ch = s[i];
            int column = i + 1;
            if (char.IsWhiteSpace(ch))
            {
                i++;
                continue;
            }
            if (char.IsDigit(ch) || (ch == '.' && i + 1 < s.Length && char.IsDigit(s[i + 1])) || (ch == '-' && i + 1 < s.Length && (char.IsDigit(s[i + 1]) || s[i + 1] == '.')))
            {
                int start = i++;
                while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
                if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
                {
                    int save = i++;
                    if (i < s.Length && (s[i] == '+' || s[i] == '-')) i++;
                    if (i < s.Length && char.IsDigit(s[i]))
                        while (i < s.Length && char.IsDigit(s[i])) i++;
                    else i = save;
                }
                string text = s[start..i];
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                    throw new KernelExpressionException(column, $"'{text}' is not a number");
                tokens.Add(new Token(Kind.Number, text, column, value));
                continue;
            }
            if (char.IsLetter(ch) || ch == '_')
            {
                int start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                string word = s[start..i];
                if (word is "inf" or "nan")
                    throw new KernelExpressionException(column, $"expected a finite number, found '{word}'");
                tokens.Add(new Token(Kind.Ident, word, column));
                continue;
            }
            if (ch is '"' or '\'')
            {
                int end = s.IndexOf(ch, i + 1);
                if (end < 0) throw new KernelExpressionException(column, $"expected a closing {ch} for the string");
                tokens.Add(new Token(Kind.String, s[(i + 1)..end], column));
                i = end + 1;
                continue;
            }
            if (ch == '*' && i + 1 < s.Length && s[i + 1] == '*')
            {
                tokens.Add(new Token(Kind.Symbol, "**", column));
                i += 2;
                continue;
            }
            if ("()[],=+*".Contains(ch))
            {
                tokens.Add(new Token(Kind.Symbol, ch.ToString(), column));
                i++;
                continue;
            }
            throw new KernelExpressionException(column, $"unexpected character '{ch}'");
        }
        tokens.Add(new Token(Kind.End, "", s.Length + 1));
    }
}
