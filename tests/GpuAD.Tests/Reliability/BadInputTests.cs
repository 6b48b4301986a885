using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

[CollectionDefinition("Reliability")] public sealed class ReliabilityCollection : ICollectionFixture<DeviceFixture>;

/// <summary>
/// The bad-input table: one test per kind of bad input, each asserting the exception's type and
/// the key words of its message, that the inputs are bitwise unchanged, and, for errors raised
/// when an op is recorded, that no kernel was loaded, no memory taken and nothing copied.
/// <list type="table">
/// <item><term>not positive-definite (Cholesky, CholeskySolve, LogDet, GP NLL)</term><description><see cref="NotPositiveDefiniteException"/>: op, first failing batch element, minor</description></item>
/// <item><term>NaN / ±Inf in a matrix that is factored (Σ, X)</term><description><see cref="NotPositiveDefiniteException"/> / <see cref="SingularMatrixException"/></description></item>
/// <item><term>NaN / ±Inf anywhere else</term><description>propagated: the output holds NaN or ±Inf (IEEE limits such as exp(−∞) = 0 aside)</description></item>
/// <item><term>singular X (Solve, AXInvB)</term><description><see cref="SingularMatrixException"/>: op, batch element, pivot</description></item>
/// <item><term>shape or batch mismatch, every op</term><description><see cref="ArgumentException"/> naming the op and both shapes, at record time</description></item>
/// <item><term>empty batch, 0×0 matrices</term><description>defined: empty outputs, empty sums 0, empty gradients</description></item>
/// <item><term>tensor of another device; vars of two tapes</term><description><see cref="ArgumentException"/></description></item>
/// <item><term>disposed tensor, tape or device</term><description><see cref="ObjectDisposedException"/></description></item>
/// <item><term>second backward over released buffers; reuse of a released value</term><description><see cref="InvalidOperationException"/> naming RetainGraph / Keep</description></item>
/// <item><term>backward from a non-scalar without a cotangent</term><description><see cref="InvalidOperationException"/> naming the shape</description></item>
/// </list>
/// Mixing float and double in one op does not compile (every op is generic over one T).
/// </summary>
[Collection("Reliability")]
public sealed class BadInputTests(DeviceFixture devices)
{
    private Device D => devices.Cpu;

    /// <summary>The catalogue's ops that factor an SPD input first (Cholesky, CholeskySolve, LogDet, the GP NLL).</summary>
    public static TheoryData<string, KernelFamily> Factoring() => Cross(Raising(typeof(NotPositiveDefiniteException)));

    public static TheoryData<string, KernelFamily> EveryOp() => Cross(OpTable.All(1, 1).Select(s => s.Name));

    /// <summary>The catalogue's ops that factor an input by LU (Solve, AXInvB).</summary>
    public static TheoryData<string, KernelFamily> InverseProducts() => Cross(Raising(typeof(SingularMatrixException)));

    private static IEnumerable<string> Raising(Type error) => Catalogue.All.Entries.Where(e => e.Raises.Contains(error)).Select(e => e.Name);

    private static TheoryData<string, KernelFamily> Cross(IEnumerable<string> names)
    {
        var data = new TheoryData<string, KernelFamily>();
        foreach (var name in names)
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
            data.Add(name, family);
        return data;
    }

    /// <summary>Device counters and the inputs' bits before a call, to compare after it.</summary>
    private sealed class Watch
    {
        private readonly Device device;
        private readonly DeviceTensor<double>[] inputs;
        private readonly long[][] bits;
        private readonly (long, long, long, long, long) counters;

        public Watch(Device device, params DeviceTensor<double>[] inputs)
        {
            this.device = device;
            this.inputs = inputs;
            bits = inputs.Select(t => OpTable.Bits(t.ToArray())).ToArray();
            counters = Counters();
        }

        private (long, long, long, long, long) Counters() =>
            (device.LoadedKernels, device.Pool.DeviceAllocations, device.Pool.BytesInUse, device.HostToDeviceCopies, device.DeviceToHostCopies);

        /// <summary>No kernel loaded, no block taken from the pool or the device, no copy.</summary>
        public void AssertNoDeviceWork() => Assert.Equal(counters, Counters());

        /// <summary>The pool holds what it held before.</summary>
        public void AssertNoLeak() => Assert.Equal(counters.Item3, device.Pool.BytesInUse);

        public void AssertInputsUnchanged()
        {
            for (int i = 0; i < inputs.Length; i++)
                Assert.True(bits[i].SequenceEqual(OpTable.Bits(inputs[i].ToArray())), $"input {i} {inputs[i].Shape} was modified");
        }
    }

    private static DeviceTensor<double>[] Upload(Device device, OpSpec spec, int seed) =>
        spec.Inputs.Select((input, i) => device.Upload<double>(input.Data(seed + i), input.Shape)).ToArray();

    private static void DisposeAll(IEnumerable<IDisposable> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }

    [Theory]
    [MemberData(nameof(Factoring))]
    public void NotPositiveDefiniteNamesTheFirstFailingBatchElementAndMinor(string op, KernelFamily family)
    {
        var device = devices.Get(family);
        const int n = 5;
        var spec = OpTable.Get(op, 3, n);
        int si = Array.FindIndex(spec.Inputs, i => i.RejectsNonFinite == typeof(NotPositiveDefiniteException));
        var sigma = spec.Inputs[si].Data(1 + si);
        sigma[(1 * n + 2) * n + 2] = -1; // element 1: minors 1, 2 positive, minor 3 not
        sigma[(2 * n + 1) * n + 1] = -1; // element 2 fails earlier (minor 2), but later in the batch
        var tensors = Upload(device, spec, 1);
        tensors[si].CopyFrom(sigma);
        var watch = new Watch(device, tensors);
        using (var tape = new Tape(device))
        {
            var vars = tensors.Select(t => tape.Variable(t)).ToArray();
            var e = Assert.Throws<NotPositiveDefiniteException>(() => spec.Apply(vars));
            Assert.Equal((1, 3), (e.BatchIndex, e.MinorOrder));
            string reporter = spec.Sample.Op.ErrorName; // the NLL factors Σ with Cholesky
            Assert.Equal(reporter, e.Op);
            Assert.Contains($"{reporter}: batch element 1", e.Message);
            Assert.Contains("leading minor of order 3 is not positive-definite", e.Message);
            Assert.Equal(0, tape.NodeCount);
            watch.AssertNoLeak();
        }
        watch.AssertInputsUnchanged();
        DisposeAll(tensors);
    }

    [Theory]
    [MemberData(nameof(EveryOp))]
    public void NonFiniteInputsAreReportedWhenFactoredAndPropagatedOtherwise(string op, KernelFamily family)
    {
        var device = devices.Get(family);
        var spec = OpTable.Get(op, 2, 4);
        for (int input = 0; input < spec.Inputs.Length; input++)
        foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            string what = $"{op}: {bad} in input {input}";
            var tensors = Upload(device, spec, 10);
            var data = spec.Inputs[input].Data(10 + input);
            long at = spec.Inputs[input].ReadElement();
            data[at] = bad;
            tensors[input].CopyFrom(data);
            var watch = new Watch(device, tensors);
            using (var tape = new Tape(device))
            {
                var vars = tensors.Select(t => tape.Variable(t)).ToArray();
                if (spec.Inputs[input].RejectsNonFinite is { } error)
                {
                    var e = Assert.Throws(error, () => spec.Apply(vars));
                    Assert.Contains("batch element 1", e.Message); // the last matrix holds the bad value
                    watch.AssertNoLeak();
                }
                else
                {
                    var y = spec.Apply(vars).Value.ToArray();
                    // The float64 reference of the last matrix, the bad value in it: where it is all
                    // finite the op has an IEEE limit there (exp(−∞) = 0, 1/∞ = 0, tanh ∞ = 1,
                    // a/∞ = 0, aᵖ with p = −∞ and a > 1 is 0), which the output must be, not a lost value.
                    var limit = LastMatrixReference(spec, input, data);
                    if (limit is not null && limit.Cast<double>().All(double.IsFinite))
                    {
                        var last = y[^limit.Length..];
                        TestData.AssertClose(limit.Cast<double>().ToArray(), last, 1e-12, $"{what}: the IEEE limit");
                    }
                    else
                        Assert.True(y.Any(v => !double.IsFinite(v)), $"{what}: the output is all finite");
                }
            }
            watch.AssertInputsUnchanged();
            DisposeAll(tensors);
        }
    }

    /// <summary>The op's float64 reference on the last batch element, input <paramref name="input"/> holding <paramref name="data"/> (null where the op has none).</summary>
    private static double[,]? LastMatrixReference(OpSpec spec, int input, double[] data)
    {
        var s = spec.Sample;
        var matrices = s.Shapes.Select((shape, i) =>
            Float64Reference.Matrix(i == input ? data : s.Data(i, 10 + i), shape, shape.Batch - 1)).ToArray();
        return s.Op.Reference(matrices, s.Args);
    }

    /// <summary>The documented IEEE limit of a triangular solve: x = b / ∞ = 0 for an infinite pivot, NaN for a NaN one.</summary>
    [Fact]
    public void ANonFinitePivotOfATriangularSolveGivesItsIeeeLimit()
    {
        const int n = 4;
        var spec = OpTable.Get("TriangularSolve", 1, n);
        foreach (double bad in new[] { double.PositiveInfinity, double.NegativeInfinity, double.NaN })
        {
            var t = spec.Inputs[0].Data(3);
            var b = spec.Inputs[1].Data(4);
            var finite = Reference.TriangularSolve(t, 1, n, b, 1, n, 2, left: true, lower: true, transpose: false, unitDiagonal: false, 1);
            t[n * n - 1] = bad; // the last pivot: forward substitution ends with x[n−1] = (…) / T[n−1, n−1]
            using var tape = new Tape(D);
            var y = Op.TriangularSolve(tape.Constant(t, spec.Inputs[0].Shape), tape.Constant(b, spec.Inputs[1].Shape), lower: true).ToArray();
            for (int j = 0; j < 2; j++)
            {
                Assert.Equal(double.IsNaN(bad) ? double.NaN : 0.0, Math.Abs(y[(n - 1) * 2 + j]));
                for (int i = 0; i < n - 1; i++) Assert.Equal(finite[i * 2 + j], y[i * 2 + j], 1e-12); // rows before it do not read it
            }
        }
    }

    [Theory]
    [MemberData(nameof(InverseProducts))]
    public void SingularXNamesTheBatchElementAndPivot(string op, KernelFamily family)
    {
        var device = devices.Get(family);
        const int n = 5;
        var spec = OpTable.Get(op, 3, n);
        int xi = Array.FindIndex(spec.Inputs, i => i.RejectsNonFinite == typeof(SingularMatrixException));
        var x = spec.Inputs[xi].Data(2);
        for (int i = 0; i < n; i++)
        {
            x[(1 * n + i) * n + 2] = 0; // element 1: column 2 is zero, so pivot 3 is exactly zero
            x[(2 * n + i) * n + 0] = 0; // element 2: pivot 1, but later in the batch
        }
        var tensors = Upload(device, spec, 2);
        tensors[xi].CopyFrom(x);
        var watch = new Watch(device, tensors);
        using (var tape = new Tape(device))
        {
            var vars = tensors.Select(t => tape.Variable(t)).ToArray();
            var e = Assert.Throws<SingularMatrixException>(() => spec.Apply(vars));
            Assert.Equal((op, 1, 3), (e.Op, e.BatchIndex, e.Pivot));
            Assert.Contains($"{op}: batch element 1", e.Message);
            Assert.Contains("singular", e.Message);
            Assert.Contains("U[3,3]", e.Message);
            Assert.Equal(0, tape.NodeCount);
            watch.AssertNoLeak();
        }
        watch.AssertInputsUnchanged();
        DisposeAll(tensors);
    }

    /// <summary>A call that records an op on vars of the given shapes and must be refused.</summary>
    public sealed record Mismatch(string Name, string Op, Shape[] Shapes, Func<Var<double>[], object> Call, int[] Named)
    {
        public override string ToString() => Name;
    }

    private static Shape S(int b, int r, int c) => new(b, r, c);

    public static IEnumerable<Mismatch> Mismatches()
    {
        int[] both = [0, 1], first = [0];
        yield return new("MatMul inner", "MatMul", [S(2, 3, 4), S(2, 5, 2)], v => Op.MatMul(v[0], v[1]), both);
        yield return new("MatMul inner transposed", "MatMul", [S(2, 3, 4), S(2, 4, 2)], v => Op.MatMul(v[0], v[1], transposeA: true), both);
        yield return new("MatMul batch", "MatMul", [S(2, 3, 4), S(3, 4, 2)], v => Op.MatMul(v[0], v[1]), both);
        yield return new("Axb A-X", "Axb", [S(1, 2, 3), S(1, 4, 4), S(1, 4, 2)], v => Op.Axb(v[0], v[1], v[2]), both);
        yield return new("Axb X-B", "Axb", [S(1, 2, 4), S(1, 4, 4), S(1, 3, 2)], v => Op.Axb(v[0], v[1], v[2]), [1, 2]);
        yield return new("Axb batch", "Axb", [S(2, 2, 4), S(3, 4, 4), S(2, 4, 2)], v => Op.Axb(v[0], v[1], v[2]), both);
        yield return new("Add shape", "Add", [S(1, 2, 3), S(1, 3, 2)], v => Op.Add(v[0], v[1]), both);
        yield return new("Add batch", "Add", [S(2, 3, 4), S(3, 3, 4)], v => Op.Add(v[0], v[1]), both);
        yield return new("Subtract shape", "Subtract", [S(1, 2, 3), S(1, 2, 4)], v => Op.Subtract(v[0], v[1]), both);
        yield return new("Subtract batch", "Subtract", [S(2, 2, 3), S(4, 2, 3)], v => Op.Subtract(v[0], v[1]), both);
        yield return new("Multiply shape", "Multiply", [S(1, 2, 3), S(1, 3, 3)], v => Op.Multiply(v[0], v[1]), both);
        yield return new("Multiply batch", "Multiply", [S(2, 2, 3), S(3, 2, 3)], v => Op.Multiply(v[0], v[1]), both);
        yield return new("Dot shape", "Dot", [S(1, 2, 3), S(1, 3, 2)], v => Op.Dot(v[0], v[1]), both);
        yield return new("Dot batch", "Dot", [S(2, 2, 3), S(3, 2, 3)], v => Op.Dot(v[0], v[1]), both);
        yield return new("MultiplyScalar s not 1x1", "MultiplyScalar", [S(1, 3, 3), S(1, 2, 1)], v => Op.MultiplyScalar(v[0], v[1]), both);
        yield return new("MultiplyScalar batch", "MultiplyScalar", [S(2, 3, 3), S(3, 1, 1)], v => Op.MultiplyScalar(v[0], v[1]), both);
        yield return new("AddDiagonal not square", "AddDiagonal", [S(1, 2, 3), S(1, 1, 1)], v => Op.AddDiagonal(v[0], v[1]), first);
        yield return new("AddDiagonal s not 1x1", "AddDiagonal", [S(1, 3, 3), S(1, 3, 1)], v => Op.AddDiagonal(v[0], v[1]), both);
        yield return new("AddDiagonal batch", "AddDiagonal", [S(2, 3, 3), S(3, 1, 1)], v => Op.AddDiagonal(v[0], v[1]), both);
        yield return new("Trace not square", "Trace", [S(1, 2, 3)], v => Op.Trace(v[0]), first);
        yield return new("Diag not square", "Diag", [S(1, 3, 2)], v => Op.Diag(v[0]), first);
        yield return new("Cholesky not square", "Cholesky", [S(2, 3, 4)], v => Op.Cholesky(v[0]), first);
        yield return new("CholeskyEx not square", "Cholesky", [S(2, 3, 4)], v => Op.CholeskyEx(v[0]), first);
        yield return new("LogDet not square", "LogDet", [S(2, 4, 3)], v => Op.LogDet(v[0]), first);
        yield return new("CholeskySolve not square", "CholeskySolve", [S(1, 3, 4), S(1, 3, 2)], v => Op.CholeskySolve(v[0], v[1]), first);
        yield return new("CholeskySolve rows", "CholeskySolve", [S(1, 3, 3), S(1, 4, 2)], v => Op.CholeskySolve(v[0], v[1]), both);
        yield return new("CholeskySolve batch", "CholeskySolve", [S(2, 3, 3), S(3, 3, 2)], v => Op.CholeskySolve(v[0], v[1]), both);
        yield return new("CholeskySolveFactor rows", "CholeskySolve", [S(1, 3, 3), S(1, 2, 2)], v => Op.CholeskySolveFactor(v[0], v[1]), both);
        yield return new("CholeskySolveFactor batch", "CholeskySolve", [S(2, 3, 3), S(3, 3, 2)], v => Op.CholeskySolveFactor(v[0], v[1]), both);
        yield return new("TriangularSolve not square", "TriangularSolve", [S(1, 3, 4), S(1, 3, 2)], v => Op.TriangularSolve(v[0], v[1], lower: true), first);
        yield return new("TriangularSolve left rows", "TriangularSolve", [S(1, 3, 3), S(1, 4, 2)], v => Op.TriangularSolve(v[0], v[1], lower: true), both);
        yield return new("TriangularSolve right columns", "TriangularSolve", [S(1, 3, 3), S(1, 3, 2)], v => Op.TriangularSolve(v[0], v[1], lower: false, left: false), both);
        yield return new("TriangularSolve batch", "TriangularSolve", [S(2, 3, 3), S(3, 3, 2)], v => Op.TriangularSolve(v[0], v[1], lower: true, transpose: true), both);
        yield return new("Solve not square", "Solve", [S(1, 3, 4), S(1, 3, 2)], v => Op.Solve(v[0], v[1]), first);
        yield return new("Solve rows", "Solve", [S(1, 3, 3), S(1, 4, 2)], v => Op.Solve(v[0], v[1]), both);
        yield return new("Solve batch", "Solve", [S(2, 3, 3), S(3, 3, 2)], v => Op.Solve(v[0], v[1]), both);
        yield return new("AXInvB A-X", "AXInvB", [S(1, 2, 3), S(1, 4, 4), S(1, 4, 2)], v => Op.AXInvB(v[0], v[1], v[2]), both);
        yield return new("AXInvB X-B", "AXInvB", [S(1, 2, 4), S(1, 4, 4), S(1, 3, 2)], v => Op.AXInvB(v[0], v[1], v[2]), [1, 2]);
        yield return new("AXInvB batch", "AXInvB", [S(2, 2, 4), S(2, 4, 4), S(3, 4, 2)], v => Op.AXInvB(v[0], v[1], v[2]), [1, 2]);
        yield return new("NLL Σ not square", "NegativeLogMarginalLikelihood", [S(1, 4, 3), S(1, 4, 1)], v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), first);
        yield return new("NLL y rows", "NegativeLogMarginalLikelihood", [S(1, 4, 4), S(1, 3, 1)], v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), both);
        yield return new("NLL y columns", "NegativeLogMarginalLikelihood", [S(1, 4, 4), S(1, 4, 2)], v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), both);
        yield return new("NLL batch", "NegativeLogMarginalLikelihood", [S(2, 4, 4), S(3, 4, 1)], v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), both);
        yield return new("RBF distances not square", "RbfCovariance", [S(1, 3, 4), S(1, 1, 1), S(1, 1, 1), S(1, 1, 1)], v => GaussianProcess.RbfCovariance(v[0], v[1], v[2], v[3]), first);
        yield return new("RBF hyperparameter not 1x1", "RbfCovariance", [S(1, 3, 3), S(1, 1, 1), S(1, 1, 2), S(1, 1, 1)], v => GaussianProcess.RbfCovariance(v[0], v[1], v[2], v[3]), [0, 2]);
        yield return new("RBF batch", "RbfCovariance", [S(2, 3, 3), S(3, 1, 1), S(1, 1, 1), S(1, 1, 1)], v => GaussianProcess.RbfCovariance(v[0], v[1], v[2], v[3]), both);
    }

    public static TheoryData<Mismatch> MismatchData() => new(Mismatches());

    /// <summary>Ops that take any shape (Scale, Transpose, Sum, Exp, Log, Tril) have no mismatch to test.</summary>
    [Theory]
    [MemberData(nameof(MismatchData))]
    public void ShapeMismatchesNameTheOpAndBothShapesBeforeAnyKernelRuns(Mismatch m)
    {
        var tensors = m.Shapes.Select((s, i) => D.Upload<double>(TestData.Random(s, i), s)).ToArray();
        using var tape = new Tape(D);
        var vars = tensors.Select(t => tape.Variable(t)).ToArray();
        var watch = new Watch(D, tensors);
        var e = Assert.Throws<ArgumentException>(() => m.Call(vars));
        watch.AssertNoDeviceWork();
        Assert.StartsWith(m.Op + ":", e.Message);
        foreach (int i in m.Named) Assert.Contains(m.Shapes[i].ToString(), e.Message);
        Assert.Equal(0, tape.NodeCount);
        watch.AssertInputsUnchanged();
        DisposeAll(tensors);
    }

    [Theory]
    [MemberData(nameof(EveryOp))]
    public void AnEmptyBatchGivesBatchZeroOutputsAndZeroSizeGradients(string op, KernelFamily family)
    {
        var spec = OpTable.Get(op, 0, 4);
        var r = OpTable.Run<double>(devices.Get(family), spec, 20);
        Assert.Equal(0, r.YShape.Batch);
        Assert.Empty(r.Y);
        Assert.Empty(r.Ydot);
        for (int i = 0; i < spec.Inputs.Length; i++)
        {
            Assert.Equal(spec.Inputs[i].Shape, r.GradShapes[i]);
            Assert.Empty(r.Grads[i]);
        }
    }

    [Theory]
    [MemberData(nameof(EveryOp))]
    public void ZeroByZeroMatricesGiveEmptyResultsAndEmptySumsOfZero(string op, KernelFamily family)
    {
        var spec = OpTable.Get(op, 2, 0);
        var r = OpTable.Run<double>(devices.Get(family), spec, 30);
        var expected = op switch
        {
            "MatMul" or "MatMulTransposed" => S(2, 3, 2),         // k = 0: a sum of no products, zeros
            "Axb" or "AXInvB" => S(2, 2, 3),                      // the same through an empty inner matrix
            "Sum" or "Trace" or "Dot" or "LogDet" or "NegativeLogMarginalLikelihood" => S(2, 1, 1), // empty sums; log det of 0×0 is log 1
            "Transpose" => S(2, 3, 0),
            "Diag" => S(2, 0, 1),
            "Cholesky" or "CholeskyInverse" or "AddDiagonal" => S(2, 0, 0),
            "CholeskySolve" or "CholeskySolveFactor" or "TriangularSolve" or "Solve" => S(2, 0, 2),
            "TriangularSolveUpperRightTransposed" => S(2, 2, 0),
            "Columns" => S(2, 0, 2),
            _ => S(2, 0, 3),                                      // elementwise ops keep the shape
        };
        Assert.Equal(expected, r.YShape);
        Assert.All(r.Y, v => Assert.Equal(0.0, v));
        Assert.All(r.Ydot, v => Assert.Equal(0.0, v));
        for (int i = 0; i < spec.Inputs.Length; i++)
        {
            Assert.Equal(spec.Inputs[i].Shape, r.GradShapes[i]); // e.g. MultiplyScalar's s̄ = ⟨Ȳ, A⟩ = 0, [2, 1, 1]
            Assert.All(r.Grads[i], v => Assert.Equal(0.0, v));
        }
    }

    [Fact]
    public void ABatchOfOneBroadcastAgainstAnEmptyBatchGetsAZeroGradient()
    {
        using var tape = new Tape(D);
        var a = tape.Variable(TestData.Random(S(1, 2, 3), 1), S(1, 2, 3));
        var b = tape.Variable(Array.Empty<double>(), S(0, 2, 3));
        var y = Op.Add(a, b);
        Assert.Equal(S(0, 2, 3), y.Shape);
        using var ybar = D.Upload<double>([], y.Shape);
        tape.Backward(y, ybar);
        Assert.Equal(new double[6], a.Grad!.ToArray());
        Assert.Equal(S(0, 2, 3), b.Grad!.Shape);
    }

    [Fact]
    public void TensorsOfAnotherDeviceAreRefused()
    {
        var other = devices.GpuEmulated;
        var s = S(1, 2, 2);
        using var mine = D.Upload<double>(TestData.Random(s, 1), s);
        using var theirs = other.Upload<double>(TestData.Random(s, 2), s);
        using var tape = new Tape(D);
        var watch = new Watch(D, mine);
        Assert.Contains(other.Name, Assert.Throws<ArgumentException>(() => tape.Variable(theirs)).Message);
        Assert.Contains(other.Name, Assert.Throws<ArgumentException>(() => tape.Constant(theirs)).Message);
        Assert.Contains("tangent", Assert.Throws<ArgumentException>(() => tape.Variable(mine, theirs)).Message);
        var x = tape.Variable(mine);
        Assert.Contains("tangent", Assert.Throws<ArgumentException>(() => tape.SetTangent(x, theirs)).Message);
        var y = Op.Scale(x, 2.0);
        Assert.Contains("cotangent", Assert.Throws<ArgumentException>(() => tape.Backward(y, theirs)).Message);
        Assert.Equal(1, tape.NodeCount);
        watch.AssertInputsUnchanged();
    }

    [Fact]
    public void VarsOfTwoTapesInOneOpAreRefused()
    {
        var s = S(1, 2, 2);
        using var t1 = new Tape(D);
        using var t2 = new Tape(D);
        using var t3 = new Tape(devices.GpuEmulated);
        var a = t1.Variable(new double[4], s);
        var b = t2.Variable(new double[4], s);
        var c = t3.Variable(new double[4], s);
        foreach (var (u, v) in new[] { (a, b), (a, c) })
        {
            var e = Assert.Throws<ArgumentException>(() => Op.Add(u, v));
            Assert.Contains("Add", e.Message);
            Assert.Contains("different tapes", e.Message);
        }
        Assert.Contains("another tape", Assert.Throws<ArgumentException>(() => t1.Backward(Op.Sum(Op.Trace(b)))).Message);
        Assert.Equal(0, t1.NodeCount);
    }

    [Fact]
    public void DisposedTensorsAreRefused()
    {
        var s = S(1, 3, 3);
        using var tape = new Tape(D);
        var gone = D.Upload<double>(TestData.Random(s, 1), s);
        gone.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tape.Variable(gone));
        Assert.Throws<ObjectDisposedException>(() => tape.Constant(gone));

        using var kept = D.Upload<double>(TestData.Random(s, 2), s);
        var later = D.Upload<double>(TestData.Random(s, 3), s);
        var x = tape.Variable(kept);
        var y = tape.Variable(later);
        later.Dispose(); // after it became a leaf
        long bytes = D.Pool.BytesInUse;
        var e = Assert.Throws<ObjectDisposedException>(() => Op.MatMul(x, y));
        Assert.Contains("MatMul", e.Message);
        Assert.Equal(bytes, D.Pool.BytesInUse);
        Assert.Equal(0, tape.NodeCount);

        var z = Op.Sum(Op.Trace(x));
        var cot = D.Upload<double>([1.0], z.Shape);
        cot.Dispose();
        Assert.Contains("cotangent", Assert.Throws<ObjectDisposedException>(() => tape.Backward(z, cot)).Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void DisposedTapesAndDevicesAreRefused()
    {
        var s = S(1, 2, 2);
        var tape = new Tape(D);
        var x = tape.Variable(TestData.Random(s, 1), s);
        var y = Op.Sum(Op.Trace(x));
        tape.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Op.Scale(x, 2.0));
        Assert.Throws<ObjectDisposedException>(() => tape.Backward(y));
        Assert.Throws<ObjectDisposedException>(() => tape.Variable(new double[4], s));
        Assert.Contains("disposed", Assert.Throws<ObjectDisposedException>(() => y.Value).Message);

        var device = Device.CreateCpu();
        using var t = device.Upload<double>(TestData.Random(s, 2), s);
        var deviceTape = new Tape(device);
        var v = deviceTape.Variable(t);
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Op.Scale(v, 2.0));
        Assert.Throws<ObjectDisposedException>(() => device.Allocate<double>(s));
        Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        deviceTape.Dispose();
    }

    [Fact]
    public void ASecondBackwardOverReleasedBuffersIsAClearError()
    {
        using var tape = new Tape(D);
        var s = S(1, 3, 3);
        var x = tape.Variable(TestData.Random(s, 5), s);
        var y = Op.Trace(Op.MatMul(x, x));
        tape.Backward(y);
        var grad = OpTable.Bits(x.Grad!.ToArray());
        var e = Assert.Throws<InvalidOperationException>(() => tape.Backward(y));
        Assert.Contains("RetainGraph", e.Message);
        Assert.Contains("Trace", e.Message);
        Assert.Equal(grad, OpTable.Bits(x.Grad!.ToArray())); // the first pass's gradient is untouched
    }

    [Fact]
    public void AValueReleasedByBackwardCannotBeReadOrReused()
    {
        using var tape = new Tape(D);
        var s = S(1, 3, 3);
        var x = tape.Variable(TestData.Random(s, 6), s);
        var h = Op.MatMul(x, x);
        var y = Op.Sum(Op.MatMul(h, h));
        tape.Backward(y);
        Assert.Contains("Keep()", Assert.Throws<InvalidOperationException>(() => h.Value).Message);
        var e = Assert.Throws<InvalidOperationException>(() => Op.Scale(h, 2.0));
        Assert.Contains("Scale", e.Message);
        Assert.Contains("Keep()", e.Message);
    }

    [Fact]
    public void BackwardFromANonScalarNeedsACotangentOfItsShape()
    {
        using var tape = new Tape(D);
        var s = S(2, 3, 3);
        var x = tape.Variable(TestData.Random(s, 6), s);
        var y = Op.MatMul(x, x);
        var e = Assert.Throws<InvalidOperationException>(() => tape.Backward(y));
        Assert.Contains("not a scalar", e.Message);
        Assert.Contains("[2, 3, 3]", e.Message);
        Assert.Null(x.Grad);

        using var wrong = D.Zeros<double>(S(1, 3, 3));
        var e2 = Assert.Throws<ArgumentException>(() => tape.Backward(y, wrong));
        Assert.StartsWith("Backward:", e2.Message);
        Assert.Contains("[2, 3, 3]", e2.Message);
        Assert.Contains("[1, 3, 3]", e2.Message);
        Assert.Null(x.Grad);

        var c = tape.Constant(TestData.Random(S(1, 3, 3), 7), S(1, 3, 3));
        Assert.Contains("does not depend", Assert.Throws<InvalidOperationException>(() => tape.Backward(Op.Sum(Op.Trace(c)))).Message);

        using var ybar = D.Upload<double>(TestData.Random(s, 7), s);
        tape.Backward(y, ybar); // a cotangent of the right shape works
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void BadLeavesAreRefused()
    {
        using var tape = new Tape(D);
        var e = Assert.Throws<ArgumentException>(() => tape.Variable(new double[5], S(1, 2, 3)));
        Assert.Contains("5", e.Message);
        Assert.Contains("[1, 2, 3]", e.Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => tape.Variable(new double[0], S(1, -2, 3))).Message);
        using var value = D.Upload<double>(new double[6], S(1, 2, 3));
        using var tangent = D.Upload<double>(new double[6], S(1, 3, 2));
        var e2 = Assert.Throws<ArgumentException>(() => tape.Variable(value, tangent));
        Assert.Contains("[1, 2, 3]", e2.Message);
        Assert.Contains("[1, 3, 2]", e2.Message);
    }
}
