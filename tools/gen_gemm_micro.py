#!/usr/bin/env python3
"""Writes src/Kernels/Generated/GemmMicroTiles.cs: the GPU GEMM's per-thread register tiles, one
struct per shape, every accumulator a field and every multiply-add written out (ILGPU 1.5.3
does not unroll loops, and a local array would live in local memory); then the DMMA tiles
(fp64 tensor cores, mma.sync.m8n8k4), whose accumulators live in named PTX registers on CUDA
and in fields, updated by an emulation of the instruction's warp semantics, everywhere else.

    python3 tools/gen_gemm_micro.py > src/Kernels/Generated/GemmMicroTiles.cs
"""

SHAPES = [(4, 4), (8, 4), (8, 8)]
MMA_SHAPES = [(4, 4), (8, 4), (8, 8)]


def struct(rows, cols):
    name = f"Micro{rows}x{cols}"
    out = []
    out.append(f"/// <summary>{rows}×{cols} accumulators per thread: rows ty + 16·r, columns tx + 16·c.</summary>")
    out.append(f"internal struct {name}<T> : IGemmMicroTile<T> where T : unmanaged, INumber<T>")
    out.append("{")
    for r in range(rows):
        out.append("    private T " + ", ".join(f"c{r}{c}" for c in range(cols)) + ";")
    out.append("")
    out.append(f"    public readonly int Rows => {rows};")
    out.append(f"    public readonly int Cols => {cols};")
    out.append("    public readonly int KStep => 1;")
    out.append("    public readonly int Pad => 1;")
    out.append("")
    out.append("    public readonly int AOffset(int strideA) => Group.IdxY;")
    out.append("")
    out.append("    public readonly int BOffset(int strideB) => Group.IdxX;")
    out.append("")
    out.append("    public readonly void Declare() { }")
    out.append("")
    out.append("    public void Begin() { }")
    out.append("")
    out.append("    public void Update(ArrayView<T> s, int ra, int rb)")
    out.append("    {")
    out.append("        T " + ", ".join(f"a{r} = s[ra + {16 * r}]" for r in range(rows)) + ";")
    out.append("        T " + ", ".join(f"b{c} = s[rb + {16 * c}]" for c in range(cols)) + ";")
    for r in range(rows):
        out.append("        " + " ".join(f"c{r}{c} += a{r} * b{c};" for c in range(cols)))
    out.append("    }")
    out.append("")
    out.append("    public readonly void Store(ArrayView<T> d, long dBase, long ld, int i0, int j0, int m, int n, T alpha, T beta)")
    out.append("    {")
    out.append("        int row = i0 + Group.IdxY, col = j0 + Group.IdxX;")
    for r in range(rows):
        args = ", ".join(f"c{r}{c}" for c in range(cols))
        out.append(f"        if (row + {16 * r} < m) GemmMicroStore.Row{cols}(d, dBase + (long)(row + {16 * r}) * ld, col, n, alpha, beta, {args});")
    out.append("    }")
    out.append("}")
    return "\n".join(out)


def mma_struct(rows, cols):
    """A (16·rows)×(16·cols) group tile on DMMA: warps 4 (M) × 2 (N), each a block of mi × ni
    8×8 tiles; a lane holds 2 accumulators per 8×8 tile (row lane/4, columns 2·(lane%4) + 0, 1)."""
    name = f"Mma{rows}x{cols}"
    wm, wn = 16 * rows // 4, 16 * cols // 2
    mi, ni = wm // 8, wn // 8
    acc = [(i, j, h) for i in range(mi) for j in range(ni) for h in range(2)]
    reg = {a: f"gad_d{k}" for k, a in enumerate(acc)}
    fld = {a: f"d{a[0]}{a[1]}{a[2]}" for a in acc}
    out = []
    out.append(f"/// <summary>")
    out.append(f"/// {16 * rows}×{16 * cols} per group on the fp64 tensor cores: 8 warps of 4×2, each {wm}×{wn} as {mi}×{ni} DMMA tiles")
    out.append(f"/// (mma.sync.m8n8k4), {len(acc)} accumulators per lane. Float64 only.")
    out.append(f"/// </summary>")
    out.append(f"internal struct {name}<T> : IGemmMicroTile<T> where T : unmanaged, INumber<T>")
    out.append("{")
    for i in range(mi):
        out.append("    private T " + ", ".join(fld[(i, j, h)] for j in range(ni) for h in range(2)) + ";")
    out.append("    private int sa, sb; // the slices' row strides (the emulation finds the other lanes' fragments with them)")
    out.append("")
    out.append(f"    public readonly int Rows => {rows};")
    out.append(f"    public readonly int Cols => {cols};")
    out.append("    public readonly int KStep => 4;")
    out.append("    public readonly int Pad => GemmMma.Pad;")
    out.append("")
    out.append("    public int AOffset(int strideA)")
    out.append("    {")
    out.append("        sa = strideA;")
    out.append("        return AOffsetOf(Warp.LaneIdx, strideA);")
    out.append("    }")
    out.append("")
    out.append("    public int BOffset(int strideB)")
    out.append("    {")
    out.append("        sb = strideB;")
    out.append("        return BOffsetOf(Warp.LaneIdx, strideB);")
    out.append("    }")
    out.append("")
    out.append("    /// <summary>Where a lane reads its A fragment in the slice: row lane/4 of the warp's rows, k = lane%4.</summary>")
    out.append(f"    private static int AOffsetOf(int lane, int strideA) => (lane & 3) * strideA + (Warp.WarpIdx >> 1) * {wm} + (lane >> 2);")
    out.append("")
    out.append("    /// <summary>Where a lane reads its B fragment: k = lane%4, column lane/4 of the warp's columns.</summary>")
    out.append(f"    private static int BOffsetOf(int lane, int strideB) => (lane & 3) * strideB + (Warp.WarpIdx & 1) * {wn} + (lane >> 2);")
    out.append("")
    out.append("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
    out.append("    public readonly void Declare()")
    out.append("    {")
    out.append("        // Written so that ILGPU places the declaration on the fall-through path, in the kernel's")
    out.append("        // first block: an \"if (IsSupported)\" block would be emitted after the loop that uses it.")
    out.append("        if (!CudaAsm.IsSupported) return;")
    out.append(f"        CudaAsm.Emit(\".reg .f64 gad_d<{len(acc)}>;\");")
    out.append("    }")
    out.append("")
    out.append("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
    out.append("    public void Begin()")
    out.append("    {")
    out.append("        if (CudaAsm.IsSupported)")
    zeros = " ".join(f"mov.f64 {reg[a]}, 0d0000000000000000;" for a in acc)
    out.append(f"            CudaAsm.Emit(\"{zeros}\");")
    out.append("        else")
    out.append("        {")
    for i in range(mi):
        out.append("            " + " ".join(f"{fld[(i, j, h)]} = T.Zero;" for j in range(ni) for h in range(2)))
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
    out.append("    public void Update(ArrayView<T> s, int ra, int rb)")
    out.append("    {")
    out.append("        T " + ", ".join(f"a{i} = s[ra + {8 * i}]" for i in range(mi)) + ";")
    out.append("        T " + ", ".join(f"b{j} = s[rb + {8 * j}]" for j in range(ni)) + ";")
    out.append("        if (CudaAsm.IsSupported)")
    out.append("        {")
    for i in range(mi):
        for j in range(ni):
            d0, d1 = reg[(i, j, 0)], reg[(i, j, 1)]
            out.append(f"            CudaAsm.Emit(\"mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {{{d0}, {d1}}}, {{%0}}, {{%1}}, {{{d0}, {d1}}};\", a{i}, b{j});")
    out.append("        }")
    out.append("        else")
    out.append("        {")
    out.append("            // What the warp's mma does, D += A·B: lane (g, t) = (lane/4, lane%4) holds row g of D at")
    out.append("            // columns 2t and 2t + 1; A[g, k] is the a that lane 4g + k loaded, B[k, c] the b of lane")
    out.append("            // 4c + k. Each is read where that lane read it (its offset in the slice, by the same")
    out.append("            // functions), so a wrong fragment mapping gives a wrong product here as on the GPU.")
    out.append("            int lane = Warp.LaneIdx, g4 = (lane >> 2) * 4, t8 = (lane & 3) * 8;")
    out.append("            int aw = ra - AOffsetOf(lane, sa), bw = rb - BOffsetOf(lane, sb); // the warp's slice origins")
    out.append("            int " + ", ".join(f"ak{k} = aw + AOffsetOf(g4 + {k}, sa)" for k in range(4)) + ";")
    out.append("            int " + ", ".join(f"bk{k}c{h} = bw + BOffsetOf(t8 + {4 * h + k}, sb)" for h in range(2) for k in range(4)) + ";")
    for i in range(mi):
        out.append("            T " + ", ".join(f"a{i}k{k} = s[ak{k} + {8 * i}]" for k in range(4)) + ";")
    for j in range(ni):
        out.append("            T " + ", ".join(f"b{j}k{k}c{h} = s[bk{k}c{h} + {8 * j}]" for h in range(2) for k in range(4)) + ";")
    for i in range(mi):
        for j in range(ni):
            for h in range(2):
                f = fld[(i, j, h)]
                out.append(f"            {f} += a{i}k0 * b{j}k0c{h}; {f} += a{i}k1 * b{j}k1c{h}; {f} += a{i}k2 * b{j}k2c{h}; {f} += a{i}k3 * b{j}k3c{h};")
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
    out.append("    public readonly void Store(ArrayView<T> d, long dBase, long ld, int i0, int j0, int m, int n, T alpha, T beta)")
    out.append("    {")
    out.append("        T " + ", ".join(f"v{k} = {fld[a]}" for k, a in enumerate(acc)) + ";")
    out.append("        if (CudaAsm.IsSupported)")
    out.append("        {")
    for k, a in enumerate(acc):
        out.append(f"            CudaAsm.Emit(\"mov.f64 %0, {reg[a]};\", out v{k});")
    out.append("        }")
    out.append(f"        int row = i0 + (Warp.WarpIdx >> 1) * {wm} + (Warp.LaneIdx >> 2), col = j0 + (Warp.WarpIdx & 1) * {wn} + 2 * (Warp.LaneIdx & 3);")
    for i in range(mi):
        args = ", ".join(f"v{acc.index((i, j, h))}" for j in range(ni) for h in range(2))
        out.append(f"        if (row + {8 * i} < m) GemmMma.Row{ni}(d, dBase + (long)(row + {8 * i}) * ld, col, n, alpha, beta, {args});")
    out.append("    }")
    out.append("}")
    return "\n".join(out)


def mma_row_helper(ni):
    params = ", ".join(f"T v{j}{h}" for j in range(ni) for h in range(2))
    lines = [f"    internal static void Row{ni}<T>(ArrayView<T> d, long rowBase, int col, int n, T alpha, T beta, {params})",
             "        where T : unmanaged, INumber<T>",
             "    {"]
    for j in range(ni):
        for h in range(2):
            lines.append(f"        GemmMicroStore.Put(d, rowBase, col + {8 * j + h}, n, alpha, beta, v{j}{h});")
    lines.append("    }")
    return "\n".join(lines)


def row_helper(cols):
    params = ", ".join(f"T v{c}" for c in range(cols))
    lines = [f"    internal static void Row{cols}<T>(ArrayView<T> d, long rowBase, int col, int n, T alpha, T beta, {params})",
             "        where T : unmanaged, INumber<T>",
             "    {"]
    for c in range(cols):
        lines.append(f"        Put(d, rowBase, col + {16 * c}, n, alpha, beta, v{c});")
    lines.append("    }")
    return "\n".join(lines)


print("""// <auto-generated> by tools/gen_gemm_micro.py; edit the generator, not this file. </auto-generated>
using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Kernels;
""")
for shape in SHAPES:
    print(struct(*shape))
    print()
print("/// <summary>Row stores of the register tiles: α·v (+ β·d), columns past n skipped.</summary>")
print("internal static class GemmMicroStore")
print("{")
for cols in sorted({c for _, c in SHAPES}):
    print(row_helper(cols))
    print()
print("""    internal static void Put<T>(ArrayView<T> d, long rowBase, int col, int n, T alpha, T beta, T v)
        where T : unmanaged, INumber<T>
    {
        if (col >= n) return;
        long idx = rowBase + col;
        d[idx] = beta == T.Zero ? alpha * v : alpha * v + beta * d[idx];
    }
}""")
print()
for shape in MMA_SHAPES:
    print(mma_struct(*shape))
    print()
print("/// <summary>The DMMA tiles' shared padding and row stores (two columns per 8×8 tile, 2·(lane%4) + 0, 1).</summary>")
print("internal static class GemmMma")
print("{")
print("    /// <summary>Padding of a staged row: rows k..k+3 of a half-warp's fragment reads then start 4 elements apart, 16 distinct 8-byte banks.</summary>")
print("    internal const int Pad = 4;")
for ni in sorted({16 * c // 2 // 8 for _, c in MMA_SHAPES}):
    print()
    print(mma_row_helper(ni))
print("}")
