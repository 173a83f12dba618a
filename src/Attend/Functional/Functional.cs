using Attend.Kernels;

namespace Attend;

/// <summary>
/// Stateless operations with PyTorch's semantics (torch.nn.functional), each differentiable.
/// Dims legend: B = batch, T = time, C = classes/channels, D = normalized size, V = vocabulary.
/// </summary>
public static unsafe partial class Functional
{
    /// <summary><c>max(x, 0)</c> elementwise, as torch.nn.functional.relu; <see cref="Tensor.Relu"/>.</summary>
    public static Tensor Relu(Tensor x) => x.Relu();
    /// <summary>Hyperbolic tangent elementwise, as torch.tanh; <see cref="Tensor.Tanh"/>.</summary>
    public static Tensor Tanh(Tensor x) => x.Tanh();
    /// <summary><c>1 / (1 + e⁻ˣ)</c> elementwise, as torch.sigmoid; <see cref="Tensor.Sigmoid"/>.</summary>
    public static Tensor Sigmoid(Tensor x) => x.Sigmoid();
    /// <summary><c>x·σ(x)</c> elementwise, as torch.nn.functional.silu; <see cref="Tensor.Silu"/>.</summary>
    public static Tensor Silu(Tensor x) => x.Silu();
    /// <summary>GELU elementwise, <paramref name="approximate"/> "none" (exact, erf) or "tanh", as torch.nn.functional.gelu; <see cref="Tensor.Gelu"/>.</summary>
    public static Tensor Gelu(Tensor x, string approximate = "none") => x.Gelu(approximate);
    /// <summary>Matrix product with torch.matmul's rules (1-D operands, broadcast batch dims): […, n, k] · […, k, m] → […, n, m]; <see cref="Tensor.Matmul"/>.</summary>
    public static Tensor Matmul(Tensor a, Tensor b) => a.Matmul(b);
    /// <summary>Concatenates tensors of one dtype along an existing <paramref name="dim"/> (other sizes equal), as torch.cat; each input gets its slice of the gradient.</summary>
    public static Tensor Cat(Tensor[] tensors, int dim = 0) => Tensor.Cat(tensors, dim);
    /// <summary>Stacks n equal-shaped tensors along a new <paramref name="dim"/> (n tensors [A, B] with dim 0 give [n, A, B]), as torch.stack.</summary>
    public static Tensor Stack(Tensor[] tensors, int dim = 0) => Tensor.Stack(tensors, dim);
    /// <summary>Views of <paramref name="splitSize"/> along <paramref name="dim"/> (the last may be smaller), as torch.split.</summary>
    public static Tensor[] Split(Tensor x, int splitSize, int dim = 0) => x.Split(splitSize, dim);
    /// <summary>Views of the given <paramref name="sizes"/> along <paramref name="dim"/> (they must add up to its size), as torch.split with a list.</summary>
    public static Tensor[] Split(Tensor x, int[] sizes, int dim = 0) => x.Split(sizes, dim);
    /// <summary>At most <paramref name="chunks"/> views of ceil(size/chunks) along <paramref name="dim"/> (the last may be smaller), as torch.chunk.</summary>
    public static Tensor[] Chunk(Tensor x, int chunks, int dim = 0) => x.Chunk(chunks, dim);
    /// <summary><c>condition ? a : b</c> elementwise over the broadcast shape of all three (condition bool, a and b float32), as torch.where;
    /// gradients flow to a and b where they were picked.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Tensor.Where(condition, a, b);
    /// <summary><paramref name="x"/> with <paramref name="value"/> where the bool <paramref name="mask"/> (broadcastable) is true, as torch.Tensor.masked_fill;
    /// filled positions get no gradient.</summary>
    public static Tensor MaskedFill(Tensor x, Tensor mask, float value) => x.MaskedFill(mask, value);
    /// <summary>Values of <paramref name="x"/> at the int64 <paramref name="index"/> along <paramref name="dim"/>: <c>out[i][j][k] = x[i][index[i][j][k]][k]</c> for dim = 1;
    /// the output has the index's shape (same rank as x), as torch.gather.</summary>
    public static Tensor Gather(Tensor x, int dim, Tensor index) => x.Gather(dim, index);
    /// <summary>Lower triangle of the last two dims: keeps (i, j) with j ≤ i + <paramref name="diagonal"/>, zeroes the rest, as torch.tril.</summary>
    public static Tensor Tril(Tensor x, int diagonal = 0) => x.Tril(diagonal);
    /// <summary>Upper triangle of the last two dims: keeps (i, j) with j ≥ i + <paramref name="diagonal"/>, zeroes the rest, as torch.triu.</summary>
    public static Tensor Triu(Tensor x, int diagonal = 0) => x.Triu(diagonal);

    /// <summary>softmax(x)_i = exp(x_i − max x) / Σ_j exp(x_j − max x) along dim. A row that is all −inf gives zeros.</summary>
    public static Tensor Softmax(Tensor x, int dim) => SoftmaxImpl(x, dim, log: false);

    /// <summary>log_softmax(x)_i = x_i − max x − log Σ_j exp(x_j − max x) along dim.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim) => SoftmaxImpl(x, dim, log: true);

    private static Tensor SoftmaxImpl(Tensor x, int dim, bool log) =>
        RowOp(log ? "log_softmax" : "softmax", x, dim,
            (y, src, rows, n) => Kernels.Softmax.Forward(y, src, rows, n, log),
            (dx, dy, y, rows, n) => Kernels.Softmax.Backward(dx, dy, y, rows, n, log));

    private delegate void RowsForward(float* y, float* x, int rows, int n);
    private delegate void RowsBackward(float* dx, float* dy, float* y, int rows, int n);

    /// <summary>
    /// A row-wise op along <paramref name="dim"/> whose backward needs only its output y (softmax, sparsemax, entmax):
    /// the dim is moved last, <paramref name="forward"/> runs on the contiguous rows, the result is moved back; the
    /// backward does the same with <paramref name="backward"/>. A scalar is one row of one element.
    /// </summary>
    private static Tensor RowOp(string op, Tensor x, int dim, RowsForward forward, RowsBackward backward)
    {
        Tensor.RequireFloat(x, op, "input");
        int d = Shapes.Dim(dim, x.ShapeRef, op);
        bool last = x.Rank == 0 || d == x.Rank - 1;
        // Work on rows: move dim to the end when it is not already there.
        using var moved = last ? x.Detach() : x.Detach().Movedim(d, -1);
        var src = moved.ContiguousRaw();
        int n = x.Rank == 0 ? 1 : x.ShapeRef[d];
        int rows = n == 0 ? 0 : x.NumEl / n;
        var yRows = Tensor.Empty(moved.ShapeRef);
        forward(yRows.Data, src.Data, rows, n);
        if (!ReferenceEquals(src, moved)) src.Dispose();
        var y = last ? yRows : MoveBack(yRows, d);
        return y.WithGrad(op, new[] { x }, g =>
        {
            using var gm = last ? g.Detach() : g.Detach().Movedim(d, -1);
            var gc = gm.ContiguousRaw();
            var dxRows = Tensor.Empty(gm.ShapeRef);
            backward(dxRows.Data, gc.Data, yRows.Data, rows, n);
            if (!ReferenceEquals(gc, gm)) gc.Dispose();
            return new[] { last ? dxRows : MoveBack(dxRows, d) };
        });
    }

    /// <summary>Undoes Movedim(d, −1) on a contiguous tensor, giving a contiguous result.</summary>
    private static Tensor MoveBack(Tensor rowsLast, int d)
    {
        using var v = rowsLast.Detach().Movedim(-1, d);
        return v.CloneRaw();
    }

    /// <summary>
    /// Layer normalization over the trailing dims named by <paramref name="normalizedShape"/>:
    /// <c>y = (x − E[x]) / √(Var[x] + eps) · weight + bias</c> (biased variance), as torch.nn.functional.layer_norm.
    /// </summary>
    public static Tensor LayerNorm(Tensor x, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        Tensor.RequireFloat(x, "layer_norm", "input");
        int k = normalizedShape.Length;
        if (k == 0 || k > x.Rank || !x.ShapeRef.AsSpan(x.Rank - k).SequenceEqual(normalizedShape))
            throw new ArgumentException($"layer_norm: normalizedShape {Shapes.Str(normalizedShape)} must match the trailing dims of input {Shapes.Str(x.ShapeRef)}");
        foreach (var (p, name) in new[] { (weight, "weight"), (bias, "bias") })
            if (p is not null && !Shapes.Equal(p.ShapeRef, normalizedShape))
                throw new ArgumentException($"layer_norm: {name} has shape {Shapes.Str(p.ShapeRef)}, expected {Shapes.Str(normalizedShape)}");
        int d = Shapes.NumEl(normalizedShape, "layer_norm");
        int rows = d == 0 ? 0 : x.NumEl / d;
        var xc = x.ContiguousRaw();
        var wc = weight?.ContiguousRaw(); var bc = bias?.ContiguousRaw();
        var y = Tensor.Empty(x.ShapeRef);
        var mean = Tensor.Empty(new[] { rows }); var rstd = Tensor.Empty(new[] { rows });
        Kernels.LayerNorm.Forward(y.Data, mean.Data, rstd.Data, xc.Data, wc is null ? null : wc.Data, bc is null ? null : bc.Data, rows, d, eps);
        if (bc is not null && !ReferenceEquals(bc, bias)) bc.Dispose();
        return y.WithGrad("layer_norm", new[] { x, weight, bias }, g =>
        {
            var gc = g.ContiguousRaw();
            var dx = x.RequiresGrad ? Tensor.Empty(x.ShapeRef) : null;
            var dw = weight is { RequiresGrad: true } ? Tensor.Zeros(normalizedShape) : null;
            var db = bias is { RequiresGrad: true } ? Tensor.Zeros(normalizedShape) : null;
            Kernels.LayerNorm.Backward(dx is null ? null : dx.Data, dw is null ? null : dw.Data, db is null ? null : db.Data,
                gc.Data, xc.Data, wc is null ? null : wc.Data, mean.Data, rstd.Data, rows, d);
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            return new[] { dx, dw, db };
        });
    }

    /// <summary>
    /// Cross-entropy between logits <paramref name="input"/> ([C], [N, C] or [N, C, d1, …]) and either class indices
    /// (int64, [], [N] or [N, d1, …]) or class probabilities (float32, same shape as input), as
    /// torch.nn.functional.cross_entropy: class <paramref name="weight"/>s, <paramref name="ignoreIndex"/> and
    /// <paramref name="labelSmoothing"/> ε mixing the target with the uniform distribution. With 'mean', index targets
    /// divide by the total weight of the kept targets; if every target is ignored the loss is 0 (PyTorch gives NaN).
    /// </summary>
    public static Tensor CrossEntropy(Tensor input, Tensor target, Tensor? weight = null, int ignoreIndex = -100,
        Reduction reduction = Reduction.Mean, float labelSmoothing = 0f)
    {
        Tensor.RequireFloat(input, "cross_entropy", "input");
        if (labelSmoothing < 0f || labelSmoothing > 1f)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"cross_entropy: labelSmoothing must be in [0, 1], got {labelSmoothing}");
        if (input.Rank == 0) throw new ArgumentException("cross_entropy: input must have at least 1 dim (classes)");
        int classDim = input.Rank == 1 ? 0 : 1;
        int c = input.ShapeRef[classDim];
        if (weight is not null && (weight.Rank != 1 || weight.ShapeRef[0] != c))
            throw new ArgumentException($"cross_entropy: weight has shape {Shapes.Str(weight.ShapeRef)}, expected [{c}] for input {Shapes.Str(input.ShapeRef)}");
        // [N, C, d…] → rows [M, C] with the class dim last.
        var moved = classDim == input.Rank - 1 ? input.Alias() : input.Movedim(classDim, -1);
        var logits = moved.Reshape(-1, c);
        var logp = LogSoftmax(logits, -1);

        if (target.DType == DType.Float32)
        {
            if (!Shapes.Equal(target.ShapeRef, input.ShapeRef))
                throw new ArgumentException($"cross_entropy: probability target {Shapes.Str(target.ShapeRef)} must have the input's shape {Shapes.Str(input.ShapeRef)}");
            var tm = classDim == input.Rank - 1 ? target.Alias() : target.Movedim(classDim, -1);
            var t2 = tm.Reshape(-1, c);
            var ts = labelSmoothing == 0f ? t2.Alias() : t2.Mul(1f - labelSmoothing).Add(labelSmoothing / c);
            var wt = weight is null ? ts.Alias() : ts.Mul(weight);
            var prod = wt.Mul(logp);
            var perRow = prod.Sum(-1).Neg();
            return reduction switch
            {
                Reduction.Sum => perRow.Sum(),
                Reduction.Mean => perRow.Mean(),
                _ => perRow.Reshape(RowShape(input, classDim)),
            };
        }
        Tensor.RequireLong(target, "cross_entropy", "target");
        var rowShape = RowShape(input, classDim);
        if (!Shapes.Equal(target.ShapeRef, rowShape))
            throw new ArgumentException($"cross_entropy: target {Shapes.Str(target.ShapeRef)} does not match input {Shapes.Str(input.ShapeRef)} (expected {Shapes.Str(rowShape)})");
        using var tflat = target.Reshape(-1);
        return NllRows(logp, tflat, weight, ignoreIndex, reduction, labelSmoothing, rowShape, "cross_entropy", input.ShapeRef);
    }

    /// <summary>Negative log-likelihood on log-probabilities [N, C] (or [C]) with int64 targets, as torch.nn.functional.nll_loss.</summary>
    public static Tensor NllLoss(Tensor logProbs, Tensor target, Tensor? weight = null, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        Tensor.RequireFloat(logProbs, "nll_loss", "input");
        Tensor.RequireLong(target, "nll_loss", "target");
        if (logProbs.Rank is < 1 or > 2) throw new ArgumentException($"nll_loss: input must be [C] or [N, C], got {Shapes.Str(logProbs.ShapeRef)}");
        int c = logProbs.ShapeRef[^1];
        using var lp = logProbs.Reshape(-1, c);
        using var t = target.Reshape(-1);
        if (t.NumEl != lp.ShapeRef[0]) throw new ArgumentException($"nll_loss: target {Shapes.Str(target.ShapeRef)} does not match input {Shapes.Str(logProbs.ShapeRef)}");
        return NllRows(lp, t, weight, ignoreIndex, reduction, 0f, logProbs.Rank == 1 ? Array.Empty<int>() : new[] { lp.ShapeRef[0] }, "nll_loss", logProbs.ShapeRef);
    }

    private static int[] RowShape(Tensor input, int classDim) =>
        input.ShapeRef.Where((_, i) => i != classDim).ToArray();

    private static Tensor NllRows(Tensor logp, Tensor target, Tensor? weight, int ignoreIndex, Reduction reduction, float eps, int[] rowShape,
        string op, int[] inputShape)
    {
        int m = logp.ShapeRef[0], c = logp.ShapeRef[1];
        var tc = target.CloneRaw();   // the backward's own copy: the caller may dispose theirs
        for (int i = 0; i < m; i++)
        {
            long ti = tc.LongData[i];
            if (ti != ignoreIndex && (ti < 0 || ti >= c))
                throw new ArgumentOutOfRangeException(nameof(target), $"{op}: target {ti} at position {i} is out of range for {c} classes " +
                    $"(input {Shapes.Str(inputShape)}, target {Shapes.Str(rowShape)}, ignoreIndex {ignoreIndex})");
        }
        var lpc = logp.ContiguousRaw();
        var wc = weight?.ContiguousRaw();
        var perRow = Tensor.Empty(new[] { m });
        double denom = Kernels.NllLoss.Forward(perRow.Data, lpc.Data, tc.LongData, wc is null ? null : wc.Data, m, c, ignoreIndex, eps);
        if (!ReferenceEquals(lpc, logp)) lpc.Dispose();
        Tensor y;
        float scale = 1f;
        if (reduction == Reduction.None) y = perRow.ViewOf(perRow.Offset, rowShape, Shapes.ContiguousStrides(rowShape));
        else
        {
            scale = reduction == Reduction.Mean ? (denom == 0 ? 0f : (float)(1.0 / denom)) : 1f;
            double s = 0; var pr = perRow.Span; foreach (var v in pr) s += v;
            y = Tensor.Scalar((float)(s * scale));
        }
        var red = reduction;
        return y.WithGrad("nll_loss", new[] { logp }, g =>
        {
            // Upstream gradient per row: g_i (none) or g·scale (sum / mean).
            var gRow = Tensor.Empty(new[] { m });
            if (red == Reduction.None) { var gc = g.ContiguousRaw(); gc.Span.CopyTo(gRow.Span); if (!ReferenceEquals(gc, g)) gc.Dispose(); }
            else gRow.Span.Fill(g.Item() * scale);
            var d = Tensor.Empty(new[] { m, c });
            Kernels.NllLoss.Backward(d.Data, gRow.Data, tc.LongData, wc is null ? null : wc.Data, m, c, ignoreIndex, eps);
            gRow.Dispose();
            return new[] { d };
        });
    }

    /// <summary>
    /// Connectionist Temporal Classification loss, as torch.nn.functional.ctc_loss: log-probabilities [T, N, C] (from
    /// log_softmax over C), padded int64 targets [N, S] (no blanks), each sample's input and target length. Mean reduction
    /// divides each sample's −log p by its target length (at least 1) and averages over the batch; with
    /// <paramref name="zeroInfinity"/> an impossible sample (too few steps for its targets) gives 0 and no gradient
    /// instead of +∞. Equations in Kernels/CtcLoss.cs; computed in float64.
    /// </summary>
    public static Tensor CtcLoss(Tensor logProbs, Tensor targets, int[] inputLengths, int[] targetLengths, int blank = 0,
        Reduction reduction = Reduction.Mean, bool zeroInfinity = false)
    {
        Tensor.RequireFloat(logProbs, "ctc_loss", "log_probs");
        Tensor.RequireLong(targets, "ctc_loss", "targets");
        if (logProbs.Rank != 3) throw new ArgumentException($"ctc_loss: log_probs must be [T, N, C], got {Shapes.Str(logProbs.ShapeRef)}");
        int T = logProbs.ShapeRef[0], N = logProbs.ShapeRef[1], C = logProbs.ShapeRef[2];
        if (targets.Rank != 2 || targets.ShapeRef[0] != N) throw new ArgumentException($"ctc_loss: targets must be [N, S] with N = {N}, got {Shapes.Str(targets.ShapeRef)}");
        if (inputLengths.Length != N || targetLengths.Length != N)
            throw new ArgumentException($"ctc_loss: {inputLengths.Length} input lengths and {targetLengths.Length} target lengths for a batch of {N}");
        if (blank < 0 || blank >= C) throw new ArgumentOutOfRangeException(nameof(blank), $"ctc_loss: blank {blank} is out of range for {C} classes");
        int sMax = targets.ShapeRef[1];
        var tc = targets.CloneRaw();   // the backward's own copy
        for (int n = 0; n < N; n++)
        {
            if (inputLengths[n] < 0 || inputLengths[n] > T) throw new ArgumentOutOfRangeException(nameof(inputLengths), $"ctc_loss: input length {inputLengths[n]} of sample {n} is outside [0, {T}]");
            if (targetLengths[n] < 0 || targetLengths[n] > sMax) throw new ArgumentOutOfRangeException(nameof(targetLengths), $"ctc_loss: target length {targetLengths[n]} of sample {n} is outside [0, {sMax}]");
            for (int j = 0; j < targetLengths[n]; j++)
            {
                long label = tc.LongData[(long)n * sMax + j];
                if (label < 0 || label >= C || label == blank) throw new ArgumentOutOfRangeException(nameof(targets), $"ctc_loss: target {label} at [{n}, {j}] is the blank or out of range for {C} classes");
            }
        }
        var lpc = logProbs.CloneRaw();   // the backward recomputes α and β from these
        var inLen = (int[])inputLengths.Clone(); var tgLen = (int[])targetLengths.Clone();
        var losses = new double[N]; var impossible = new bool[N];
        for (int n = 0; n < N; n++)
        {
            losses[n] = Kernels.CtcLoss.Sample(lpc.Data, T, n, N, C, tc.LongData + (long)n * sMax, inLen[n], tgLen[n], blank, null, 0);
            impossible[n] = double.IsPositiveInfinity(losses[n]);
            if (zeroInfinity && impossible[n]) losses[n] = 0;
        }
        var scales = Enumerable.Range(0, N).Select(n => reduction == Reduction.Mean ? 1.0 / Math.Max(1, tgLen[n]) / N : 1.0).ToArray();
        var y = reduction == Reduction.None ? Tensor.FromArray(losses.Select(v => (float)v).ToArray(), new[] { N })
            : Tensor.Scalar((float)Enumerable.Range(0, N).Sum(n => losses[n] * scales[n]));
        return y.WithGrad("ctc_loss", new[] { logProbs }, g =>
        {
            var gs = g.ToArray();
            var d = Tensor.Zeros(T, N, C);
            for (int n = 0; n < N; n++)
            {
                if (impossible[n]) continue;    // no alignment: no gradient (PyTorch gives NaN without zero_infinity)
                double gn = reduction == Reduction.None ? gs[n] : gs[0] * scales[n];
                Kernels.CtcLoss.Sample(lpc.Data, T, n, N, C, tc.LongData + (long)n * sMax, inLen[n], tgLen[n], blank, d.Data, gn);
            }
            return new[] { d };
        });
    }

    /// <summary>Rows of <paramref name="weight"/> [V, D] picked by int64 ids of any shape → [..., D]. The row
    /// <paramref name="paddingIdx"/> gets no gradient, as torch.nn.functional.embedding.</summary>
    public static Tensor Embedding(Tensor input, Tensor weight, int? paddingIdx = null)
    {
        Tensor.RequireLong(input, "embedding", "input");
        Tensor.RequireFloat(weight, "embedding", "weight");
        if (weight.Rank != 2) throw new ArgumentException($"embedding: weight must be 2-D [V, D], got {Shapes.Str(weight.ShapeRef)}");
        int v = weight.ShapeRef[0], dim = weight.ShapeRef[1];
        int? pad = paddingIdx is int p ? (p < 0 ? p + v : p) : null;
        if (pad is int pp && (pp < 0 || pp >= v)) throw new ArgumentOutOfRangeException(nameof(paddingIdx), $"embedding: paddingIdx {paddingIdx} is out of range for a table of {v} rows {Shapes.Str(weight.ShapeRef)}");
        var ids = input.CloneRaw();   // the backward's own copy: the caller may dispose theirs
        var w = weight.ContiguousRaw();
        var y = Tensor.Empty(input.ShapeRef.Append(dim).ToArray());
        long* pi = ids.LongData; float* pw = w.Data, py = y.Data;
        for (int i = 0; i < ids.NumEl; i++)
        {
            long id = pi[i];
            if (id < 0 || id >= v)
                throw new ArgumentOutOfRangeException(nameof(input), $"embedding: index {id} at position {i} of input {Shapes.Str(input.ShapeRef)} is out of range for a table of {v} rows {Shapes.Str(weight.ShapeRef)}");
            Buffer.MemoryCopy(pw + id * dim, py + (long)i * dim, dim * 4L, dim * 4L);
        }
        if (!ReferenceEquals(w, weight)) w.Dispose();
        return y.WithGrad("embedding", new[] { weight }, g =>
        {
            var gc = g.ContiguousRaw();
            var dw = Tensor.Zeros(v, dim);
            float* pg = gc.Data, pd = dw.Data;
            for (int i = 0; i < ids.NumEl; i++)
            {
                long id = pi[i];
                if (id == pad) continue;
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(pd + id * dim, dim), new ReadOnlySpan<float>(pg + (long)i * dim, dim), new Span<float>(pd + id * dim, dim));
            }
            if (!ReferenceEquals(gc, g)) gc.Dispose();
            return new[] { dw };
        });
    }

    /// <summary>Zeroes each element with probability p and scales the rest by 1/(1−p) while training; identity otherwise.
    /// The mask comes from <paramref name="rng"/> (or the generator seeded by <see cref="Tensor.ManualSeed"/>).</summary>
    public static Tensor Dropout(Tensor x, float p = 0.5f, bool training = true, Random? rng = null)
    {
        Tensor.RequireFloat(x, "dropout", "input");
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), $"dropout: probability must be in [0, 1], got {p}");
        if (!training || p == 0f) return x.Alias();
        var mask = Tensor.Empty(x.ShapeRef);
        var ms = mask.Span;
        float keep = p == 1f ? 0f : 1f / (1f - p);
        var r = rng ?? Tensor.DefaultGenerator;
        lock (r) for (int i = 0; i < ms.Length; i++) ms[i] = r.NextSingle() < p ? 0f : keep;
        Tensor y;
        using (Autograd.NoGrad()) y = x.Mul(mask);
        return y.WithGrad("dropout", new[] { x }, g => new[] { g.Mul(mask) });
    }
}
