using System.CommandLine;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using GpuAD.Tool.Ops;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad vjp OP</c> and <c>gpuad jvp OP</c>: one op's value and its vector-Jacobian or
/// Jacobian-vector product on arrays read from .npy files, written back as .npy files.
/// </summary>
internal static class DerivativeCommand
{
    public static Command Create(bool reverse)
    {
        string verb = reverse ? "vjp" : "jvp";
        var op = new Argument<string>("op") { Description = $"The op: {CliOps.Names}" };
        var inputs = new Option<string[]>("--input")
        {
            Description = "An input of the op as NAME=PATH to a .npy file, or to an .npz archive (its array NAME, or its only " +
                          "array) or ARCHIVE.npz:ARRAY (repeat for each input)",
            HelpName = "NAME=PATH",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var cotangent = new Option<string>("--cotangent")
        {
            Description = "The cotangent Ȳ (.npy), of the output's shape",
            HelpName = "PATH",
        };
        var tangents = new Option<string[]>("--tangent")
        {
            Description = "The tangent of an input as NAME=PATH (repeat; a missing tangent is zero)",
            HelpName = "NAME=PATH",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var lower = new Option<bool>("--lower")
        {
            Description = "triangular-solve: T is lower triangular [default: true]; --lower false: T is upper triangular",
            HelpName = "true|false",
        };
        var left = new Option<bool>("--left")
        {
            Description = "triangular-solve: solve op(T)·Y = B [default: true]; --left false: solve Y·op(T) = B",
            HelpName = "true|false",
        };
        var transpose = new Option<bool>("--transpose")
        {
            Description = "triangular-solve: op(T) = Tᵀ (--transpose alone means true) [default: false]",
            HelpName = "true|false",
        };
        var unit = new Option<bool>("--unit-diagonal")
        {
            Description = "triangular-solve: T's diagonal is 1 and not read (--unit-diagonal alone means true) [default: false]",
            HelpName = "true|false",
        };
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var output = new Option<string>("--out")
        {
            Description = (reverse ? "Directory for y.npy and grad_NAME.npy" : "Directory for y.npy and ydot.npy") +
                          " (created if missing; existing outputs are replaced, inputs never)",
            HelpName = "DIR",
            Required = true,
        };

        string description = reverse
            ? $"""
              Value and vector-Jacobian product of one op on .npy arrays: writes DIR/y.npy and, for
              every input NAME, DIR/grad_NAME.npy = ∂⟨Ȳ, Y⟩/∂NAME.
              Arrays are [batch, rows, cols] (2-D files are one matrix); a batch of 1 broadcasts.
              .npy files in C or Fortran order and .npz archives are read. Outputs are written 3-D,
              C order, in the --dtype, all or none: each goes to a temporary file that replaces its
              final name once every output is written. An output path that is one of the inputs
              is refused before anything runs.

              Ops and their inputs:
              {CliOps.Listing}

              Example: gpuad vjp cholesky --input sigma=S.npy --cotangent G.npy --out out/
              Exit code 2: a wrong command line (unknown op or input name, an unusable --out); 1: a missing or
              malformed file, shapes that do not fit, a matrix that is not positive-definite or is singular.
              """
            : $"""
              Value and Jacobian-vector product (forward mode) of one op on .npy arrays: writes
              DIR/y.npy and DIR/ydot.npy = Σ over inputs of ∂Y/∂NAME · tangent of NAME.
              Arrays are [batch, rows, cols] (2-D files are one matrix); a batch of 1 broadcasts.
              .npy files in C or Fortran order and .npz archives are read. Outputs are written 3-D,
              C order, in the --dtype, all or none: each goes to a temporary file that replaces its
              final name once every output is written. An output path that is one of the inputs
              is refused before anything runs.

              Ops and their inputs:
              {CliOps.Listing}

              Example: gpuad jvp triangular-solve --input t=T.npy --input rhs=B.npy --tangent t=dT.npy --out out/
              Exit code 2: a wrong command line (unknown op or input name, an unusable --out); 1: a missing or
              malformed file, shapes that do not fit, a matrix that is not positive-definite or is singular.
              """;

        var command = new Command(verb, description) { op, inputs, reverse ? cotangent : tangents, lower, left, transpose, unit, dtype, device, output };
        command.SetAction(Report.Guard(parse =>
        {
            var cliOp = CliOps.Find(parse.GetValue(op)!);
            var flags = ParseFlags(parse, cliOp, lower, left, transpose, unit);
            var inputPaths = ParseNamed(cliOp, "--input", parse.GetValue(inputs) ?? [], requireAll: true);
            var tangentPaths = reverse ? [] : ParseNamed(cliOp, "--tangent", parse.GetValue(tangents) ?? [], requireAll: false);
            string? cotangentPath = reverse ? parse.GetValue(cotangent) ?? throw new UsageException("vjp needs --cotangent PATH (an array of the output's shape).") : null;
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            string outDir = parse.GetValue(output)!;

            // Every output path is checked, and its temporary file opened, before any work.
            var inputFiles = inputPaths.Select(i => ($"--input {i.Key}", i.Value))
                .Concat(tangentPaths.Select(t => ($"--tangent {t.Key}", t.Value)))
                .Concat(cotangentPath is null ? [] : [("--cotangent", cotangentPath)])
                .Select(i => (i.Item1, InputArrays.Split(i.Item2).File));
            var outputNames = new[] { "y" }.Concat(reverse ? cliOp.Inputs.Select(o => $"grad_{o.Name}") : ["ydot"]);
            using var files = OutputFiles.Prepare("--out", outDir, outputNames.Select(n => n + ".npy"), inputFiles);

            var request = new Request(cliOp, flags, inputPaths, tangentPaths, cotangentPath, files);
            using var dev = CommonOptions.OpenDevice(parse.GetValue(device));
            return type == DType.F32 ? Run<float>(dev, request) : Run<double>(dev, request);
        }));
        return command;
    }

    private sealed record Request(OpInfo Op, OpArgs Flags, Dictionary<string, string> Inputs,
        Dictionary<string, string> Tangents, string? Cotangent, OutputFiles Outputs);

    /// <summary>
    /// The flags given on the command line, each option --unit-diagonal naming the op's flag
    /// unitDiagonal; the ones not given take the op's defaults.
    /// </summary>
    private static OpArgs ParseFlags(ParseResult parse, OpInfo op, params Option<bool>[] options)
    {
        var given = options.Where(o => parse.Given(o)).ToArray();
        var foreign = given.Where(o => op.Flags.All(f => f.Name != FlagName(o))).Select(o => o.Name).ToArray();
        if (foreign.Length > 0)
        {
            var takers = CliOps.All.Where(o => options.Any(x => o.Flags.Any(f => f.Name == FlagName(x)))).Select(o => o.Kebab);
            throw new UsageException($"{string.Join(", ", foreign)}: only {string.Join(", ", takers)} takes flags, not {op.Kebab}.");
        }
        return given.Aggregate(OpArgs.None, (args, o) => args.With(FlagName(o), parse.GetValue(o)));
    }

    /// <summary>--unit-diagonal → unitDiagonal.</summary>
    private static string FlagName(Option<bool> option) =>
        string.Concat(option.Name.TrimStart('-').Split('-').Select((w, i) => i == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));

    /// <summary>Parses NAME=PATH pairs against the op's input names.</summary>
    private static Dictionary<string, string> ParseNamed(OpInfo op, string option, string[] pairs, bool requireAll)
    {
        var names = op.Inputs.Select(o => o.Name).ToArray();
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || eq == pair.Length - 1)
                throw new UsageException($"{option} '{pair}' is not NAME=PATH; {op.Kebab} takes {string.Join(", ", names)}.");
            string name = pair[..eq].Trim().ToLowerInvariant(), path = pair[(eq + 1)..];
            if (!names.Contains(name))
                throw new UsageException($"{option}: {op.Kebab} has no input '{name}'; its inputs are {string.Join(", ", names)}.");
            if (!result.TryAdd(name, path))
                throw new UsageException($"{option}: input '{name}' is given twice.");
        }
        var missing = names.Where(n => !result.ContainsKey(n)).ToArray();
        if (requireAll && missing.Length > 0)
            throw new UsageException($"{op.Kebab} needs {string.Join(" ", missing.Select(m => $"{option} {m}=PATH"))}.");
        return result;
    }

    private static int Run<T>(Device device, Request r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var owned = new List<DeviceTensor<T>>();
        try
        {
            using var tape = new Tape(device);
            var vars = new Var<T>[r.Op.Inputs.Count];
            for (int i = 0; i < vars.Length; i++)
            {
                string name = r.Op.Inputs[i].Name;
                var value = Load<T>(device, $"--input {name}", r.Inputs[name], owned);
                DeviceTensor<T>? tangent = null;
                if (r.Tangents.TryGetValue(name, out var tangentPath))
                {
                    tangent = Load<T>(device, $"--tangent {name}", tangentPath, owned);
                    if (tangent.Shape != value.Shape)
                        throw new ToolFailureException($"--tangent {name}: shape {tangent.Shape} differs from input {name}'s shape {value.Shape}.");
                }
                vars[i] = tape.Variable(value, tangent);
            }

            DeviceTensor<T>? cot = null;
            if (r.Cotangent is not null) cot = Load<T>(device, "--cotangent", r.Cotangent, owned);

            var y = r.Op.Apply(vars, r.Flags).Keep();
            // Everything is computed and checked before the first file is written.
            var outputs = new List<(string Name, DeviceTensor<T> Value)> { ("y", y.Value) };
            if (cot is not null)
            {
                if (cot.Shape != y.Shape)
                    throw new ToolFailureException($"--cotangent: shape {cot.Shape} differs from the output's shape {y.Shape} ({r.Op.Kebab} of {Shapes(vars)}).");
                tape.Backward(y, cot);
                for (int i = 0; i < vars.Length; i++)
                    outputs.Add(($"grad_{r.Op.Inputs[i].Name}", vars[i].Grad ?? Zeros(device, vars[i].Shape, owned)));
            }
            else
            {
                outputs.Add(("ydot", y.Tangent ?? Zeros(device, y.Shape, owned)));
            }
            var written = outputs.Select(o => Write(r.Outputs, o.Name, o.Value)).ToList();
            r.Outputs.Commit();
            Terminal.Line($"{r.Op.Kebab} of {Shapes(vars)} on {CommonOptions.Describe(device)}, {(typeof(T) == typeof(float) ? "f32" : "f64")}:");
            foreach (var line in written) Terminal.Line($"  {line}");
            return ExitCodes.Success;
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    private static DeviceTensor<T> Zeros<T>(Device device, Shape shape, List<DeviceTensor<T>> owned) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var zeros = device.Zeros<T>(shape);
        owned.Add(zeros);
        return zeros;
    }

    private static string Shapes<T>(Var<T>[] vars) where T : unmanaged, IFloatingPointIeee754<T> => string.Join(", ", vars.Select(v => v.Shape.ToString()));

    /// <summary>Reads an input onto the device as a batched matrix of T.</summary>
    private static DeviceTensor<T> Load<T>(Device device, string what, string path, List<DeviceTensor<T>> owned) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var array = InputArrays.Read(what, path, name: what.Split(' ').Last()); // --input sigma → sigma
        var (data, shape) = InputArrays.Batched<T>(what, path, array);
        var tensor = device.Upload<T>(data, shape);
        owned.Add(tensor);
        return tensor;
    }

    private static string Write<T>(OutputFiles files, string name, DeviceTensor<T> value) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] data = value.ToArray();
        files.Write(name + ".npy", stream => Npy.Write<T>(stream, data, value.Batch, value.Rows, value.Cols));
        return $"{name} {value.Shape} → {files.PathOf(name + ".npy")}";
    }
}
