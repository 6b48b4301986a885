namespace GpuAD.Tests.GaussianProcesses;

/// <summary>
/// The kernels' host side: θ, bounds and repr against scikit-learn (tests/golden/gp-kernels, written
/// by tests/oracle/generate_gp_kernels.py), Python's '.3g' format, the expression round trips, and
/// the parser's errors with their columns.
/// </summary>
public sealed class KernelExpressionTests
{
    public static TheoryData<string> Cases() => new(KernelGolden.Cases());

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThetaBoundsAndReprAgreeWithScikitLearn(string name)
    {
        var c = KernelGolden.Load(name);
        var kernel = Kernel.Parse(c.Expression);
        Assert.Equal(c.Repr, kernel.ToString());
        Assert.Equal(c.Theta.Length, kernel.ThetaLength);
        AssertSame(c.Theta, kernel.Theta, $"{name}: θ");
        var bounds = kernel.Bounds;
        Assert.Equal(c.Theta.Length, bounds.Length);
        AssertSame(c.Bounds.Where((_, i) => i % 2 == 0).ToArray(), bounds.Select(b => b.Lower).ToArray(), $"{name}: lower bounds");
        AssertSame(c.Bounds.Where((_, i) => i % 2 == 1).ToArray(), bounds.Select(b => b.Upper).ToArray(), $"{name}: upper bounds");
        // The fitted kernel printed from scikit-learn's fitted θ: WithTheta and the repr of other values.
        Assert.Equal(c.FitRepr, kernel.WithTheta(c.FitTheta).ToString());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ParsingTheReprAndTheExpressionRoundTrips(string name)
    {
        var kernel = Kernel.Parse(KernelGolden.Load(name).Expression);
        // ToExpression keeps everything: Parse rebuilds the same θ, bounds, repr and expression.
        var exact = Kernel.Parse(kernel.ToExpression());
        Assert.Equal(kernel.Theta, exact.Theta);
        Assert.Equal(kernel.Bounds, exact.Bounds);
        Assert.Equal(kernel.ToString(), exact.ToString());
        Assert.Equal(kernel.ToExpression(), exact.ToExpression());
        // The repr rounds to three digits and drops bounds: parsing it is a fixed point of the repr.
        var fromRepr = Kernel.Parse(kernel.ToString());
        Assert.Equal(kernel.ToString(), fromRepr.ToString());
        Assert.Equal(kernel.ThetaLength + kernel.Hyperparameters.Where(h => h.IsFixed).Sum(h => h.Values.Count), fromRepr.ThetaLength);
    }

    [Fact]
    public void ReprOfExactValuesRoundTripsTheta()
    {
        // Values with at most three significant digits survive the repr exactly (√c too: c = 66²).
        var k = 66.0 * 66.0 * new RBF(67) + new ConstantKernel(2.4 * 2.4) * new RBF(90) * new ExpSineSquared(1.3, 1)
                + new WhiteKernel(0.0361);
        var back = Kernel.Parse(k.ToString());
        Assert.Equal(k.ToString(), back.ToString());
        Assert.Equal(k.Theta, back.Theta);
        Assert.Equal(k.Bounds, back.Bounds);
    }

    [Fact]
    public void TheDocsCo2KernelIsTheGoldenOne()
    {
        // docs/GaussianProcesses.md builds scikit-learn's CO₂ model with the operators.
        var k = 66.0 * 66.0 * new RBF(67)
              + 2.4 * 2.4 * new RBF(90) * new ExpSineSquared(1.3, 1.0, periodicityBounds: HyperparameterBounds.Fixed)
              + 0.66 * 0.66 * new RationalQuadratic(lengthScale: 1.2, alpha: 0.78)
              + 0.18 * 0.18 * new RBF(0.134) + new WhiteKernel(0.0361);
        var golden = KernelGolden.Load("co2-mauna-loa");
        Assert.Equal(golden.Repr, k.ToString());
        Assert.Equal(11, k.ThetaLength);
        AssertSame(golden.Theta, k.Theta, "θ");
    }

    [Theory]
    [InlineData(0.0361, "0.0361")]
    [InlineData(1e-5, "1e-05")]
    [InlineData(123456.0, "1.23e+05")]
    [InlineData(999.5, "1e+03")]
    [InlineData(0.00012345, "0.000123")]
    [InlineData(1.2345e-05, "1.23e-05")]
    [InlineData(316.227766, "316")]
    [InlineData(2.5, "2.5")]
    [InlineData(100.0, "100")]
    [InlineData(1000.0, "1e+03")]
    [InlineData(1e5, "1e+05")]
    [InlineData(12.35, "12.3")]
    [InlineData(0.99951, "1")]
    [InlineData(5e-324, "4.94e-324")]
    [InlineData(1.7976931348623157e308, "1.8e+308")]
    public void NumbersPrintAsPythonsThreeDigitGeneralFormat(double value, string python) =>
        Assert.Equal(python, PythonFormat.G(value, 3)); // expected strings from CPython's '{:.3g}'.format

    [Fact]
    public void OperatorsBuildScikitLearnsSumsAndProducts()
    {
        var k = 2.0 * new RBF(0.5) + new WhiteKernel(0.1);
        Assert.Equal("1.41**2 * RBF(length_scale=0.5) + WhiteKernel(noise_level=0.1)", k.ToString());
        Assert.Equal([Math.Log(2.0), Math.Log(0.5), Math.Log(0.1)], k.Theta);
        var right = new Matern(new[] { 1.0, 2.0 }, nu: 2.5) * 4.0;
        Assert.Equal("Matern(length_scale=[1, 2], nu=2.5) * 2**2", right.ToString());
        Assert.Equal(2, right.InputDimensions);
        Assert.Equal([0.0, Math.Log(2.0), Math.Log(4.0)], right.Theta);
        var sum = new RBF() + 3.0;
        Assert.Equal("RBF(length_scale=1) + 1.73**2", sum.ToString());
        // θ order within a kernel is by name: RationalQuadratic lists α before ℓ; ExpSineSquared ℓ before p.
        Assert.Equal([Math.Log(0.7), Math.Log(1.9)], new RationalQuadratic(lengthScale: 1.9, alpha: 0.7).Theta);
        Assert.Equal([Math.Log(1.9), Math.Log(0.7)], new ExpSineSquared(lengthScale: 1.9, periodicity: 0.7).Theta);
    }

    [Fact]
    public void FixedHyperparametersLeaveThetaAndWithThetaKeepsThem()
    {
        var k = new ConstantKernel(2, HyperparameterBounds.Fixed) * new RBF([0.5, 3.0], new HyperparameterBounds(0.01, 10)) + new WhiteKernel(0.2);
        Assert.Equal(3, k.ThetaLength);
        Assert.Equal([(Math.Log(0.01), Math.Log(10.0)), (Math.Log(0.01), Math.Log(10.0)), (Math.Log(1e-5), Math.Log(1e5))], k.Bounds);
        var moved = k.WithTheta([0.0, 1.0, -2.0]);
        Assert.Equal([0.0, 1.0, -2.0], moved.Theta);
        Assert.Equal(2.0, ((ConstantKernel)((KernelProduct)((KernelSum)moved).K1).K1).ConstantValue);
        Assert.Equal("ConstantKernel(constant_value=2, constant_value_bounds=\"fixed\") * RBF(length_scale=[1, 2.718281828459045], "
                     + "length_scale_bounds=(0.01, 10)) + WhiteKernel(noise_level=0.1353352832366127)", moved.ToExpression());
        var e = Assert.Throws<ArgumentException>(() => k.WithTheta([0.0, 1.0]));
        Assert.Contains("θ holds 2 values but", e.Message);
    }

    [Fact]
    public void ShorthandsAreUnitKernelsTimesAConstantPlusNoise()
    {
        Assert.Equal("1**2 * RBF(length_scale=1) + WhiteKernel(noise_level=1)", Kernel.Parse("rbf").ToString());
        Assert.Equal("1**2 * Matern(length_scale=1, nu=0.5) + WhiteKernel(noise_level=1)", Kernel.Parse("matern12").ToString());
        Assert.Equal("1**2 * Matern(length_scale=1, nu=1.5) + WhiteKernel(noise_level=1)", Kernel.Parse("Matern32").ToString());
        Assert.Equal("1**2 * Matern(length_scale=1, nu=2.5) + WhiteKernel(noise_level=1)", Kernel.Parse(" matern52 ").ToString());
        Assert.Equal(new double[3], Kernel.Parse("rbf").Theta);
    }

    [Fact]
    public void ArgumentsMayBePositionalInScikitLearnsOrderAndBoundsMayBeGiven()
    {
        var k = Kernel.Parse("RationalQuadratic(0.5, 2, 'fixed') * ConstantKernel() + Matern([1, 2], (1e-3, 1e3), 0.5)");
        Assert.Equal("RationalQuadratic(alpha=2, length_scale=0.5) * 1**2 + Matern(length_scale=[1, 2], nu=0.5)", k.ToString());
        Assert.Equal([Math.Log(2.0), 0.0, 0.0, Math.Log(2.0)], k.Theta);
        Assert.Equal(Math.Log(1e-3), k.Bounds[2].Lower);
    }

    [Theory]
    [InlineData("RBF(length_scale=1", 19, "expected ')' after the arguments of RBF, found the end of the expression")]
    [InlineData("1.0 * RBF(length_scale=1) + ", 29, "expected a kernel, a number or '(', found the end of the expression")]
    [InlineData("RBF(length_scal=1)", 5, "RBF has no argument 'length_scal'")]
    [InlineData("Matern(nu=1.0)", 1, "Matern: nu = 1 is not supported (0.5, 1.5 or 2.5).")]
    [InlineData("Foo(1)", 1, "unknown kernel 'Foo'")]
    [InlineData("RBF(length_scale=[1, 2)", 23, "expected ']' after the values of length_scale, found ')'")]
    [InlineData("2 ** RBF()", 6, "expected a number after '**', found 'RBF'")]
    [InlineData("RBF() RBF()", 7, "expected '+', '*' or the end after a kernel, found 'RBF'")]
    [InlineData("(RBF() + WhiteKernel()", 23, "expected ')' after the parenthesized kernel, found the end of the expression")]
    [InlineData("RBF(length_scale=-1)", 1, "length_scale = -1: must be positive and finite")]
    [InlineData("RBF(length_scale=1) $", 21, "unexpected character '$'")]
    [InlineData("", 1, "expected a kernel, found an empty expression")]
    [InlineData("Matern", 7, "expected '(' after Matern, found the end of the expression")]
    [InlineData("RBF(length_scale_bounds=(1, 0.5))", 25, "upper bound must be at least the lower bound")]
    [InlineData("(RBF() + RBF()) ** 2", 17, "a kernel raised to a power (Exponentiation) is not supported")]
    [InlineData("RationalQuadratic(alpha=[1, 2])", 25, "RationalQuadratic: alpha takes one value, found a list of 2")]
    public void MalformedExpressionsNameTheColumn(string expression, int column, string problem)
    {
        var e = Assert.Throws<KernelExpressionException>(() => Kernel.Parse(expression));
        Assert.Equal(column, e.Column);
        Assert.StartsWith($"kernel expression, column {column}: ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static void AssertSame(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 4e-16 * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]:R}, scikit-learn {expected[i]:R}");
    }
}

/// <summary>One scikit-learn case of tests/golden/gp-kernels (see tests/oracle/generate_gp_kernels.py).</summary>
public sealed record KernelGolden(string Name, string Expression, string Repr, int N, int D, double[] X, double[] Y, double[] Theta, double[] Bounds,
    double Nll, double[] Grad, double[] KBlock, int BlockSize, int M, double[] XStar, double[] Mean, double[] Std, double[] FitTheta, double FitNll, string FitRepr)
{
    private static string Root => Path.Combine(Golden.Root, "gp-kernels");

    public static IEnumerable<string> Cases() => Directory.EnumerateDirectories(Root).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static KernelGolden Load(string name)
    {
        string folder = Path.Combine(Root, name);
        NpyArray Read(string f) => Npy.Read(Path.Combine(folder, f + ".npy"));
        string Text(string f) => File.ReadAllText(Path.Combine(folder, f + ".txt")).TrimEnd('\n');
        var x = Read("x");
        var k = Read("k");
        var xs = Read("xstar");
        return new KernelGolden(name, Text("expression"), Text("repr"), x.Shape[0], x.Shape[1], x.ToDouble(), Read("y").ToDouble(), Read("theta").ToDouble(),
            Read("bounds").ToDouble(), Read("nll").ToDouble()[0], Read("grad").ToDouble(), k.ToDouble(), k.Shape[0], xs.Shape[0], xs.ToDouble(),
            Read("mean").ToDouble(), Read("std").ToDouble(), Read("fit_theta").ToDouble(), Read("fit_nll").ToDouble()[0], Text("fit_repr"));
    }
}
