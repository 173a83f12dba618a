namespace Attend.Data;

/// <summary>
/// Batches of normalized images. The order, the shifts and the flips are functions of (seed, step) alone: epoch e visits the
/// training images in a Fisher–Yates permutation drawn by <c>SplitMix64.ForStep(seed, e)</c>, and the shifts and flips of
/// step s come from <c>SplitMix64.ForStep(seed, s, stream: 1)</c>, so a resumed run sees exactly the batches an uninterrupted one would.
/// Each epoch has ⌊N / B⌋ full batches (the last few images of a permutation wait for another epoch).
/// </summary>
public sealed class ImageBatches(ImageSet data, int batch, ulong seed, float[] mean, float[] std)
{
    private int permEpoch = -1;
    private int[] perm = [];

    /// <summary>Training steps per epoch: ⌊N / B⌋ full batches, at least 1 (one batch of all N images when B &gt; N).</summary>
    public int StepsPerEpoch => Math.Max(1, data.Count / batch);

    /// <summary>The image indices of step <paramref name="step"/> (0-based).</summary>
    public int[] Indices(long step)
    {
        int epoch = (int)(step / StepsPerEpoch), pos = (int)(step % StepsPerEpoch);
        if (epoch != permEpoch)
        {
            perm = Enumerable.Range(0, data.Count).ToArray();
            SplitMix64.ForStep(seed, epoch).Shuffle(perm);
            permEpoch = epoch;
        }
        int b = Math.Min(batch, data.Count);
        return perm[(pos * b)..(pos * b + b)];
    }

    /// <summary>The inputs [B, Ch, H, W] and labels [B] of a training step, each image shifted by up to
    /// <paramref name="shift"/> pixels per axis and, with <paramref name="flip"/>, mirrored left–right with probability ½.</summary>
    public (Tensor X, Tensor Y) Train(long step, int shift, bool flip = false) => Train(step, shift, flip, 0, Indices(step).Length);

    /// <summary>Images [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) of training step
    /// <paramref name="step"/>'s batch, moved as in the whole batch (a data-parallel rank's part of it).</summary>
    public (Tensor X, Tensor Y) Train(long step, int shift, bool flip, int start, int count)
    {
        var idx = Indices(step);
        if (start < 0 || count < 0 || start + count > idx.Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"images [{start}, {start + count}) of a batch of {idx.Length}");
        var rng = SplitMix64.ForStep(seed, step, stream: 1);
        var moves = idx.Select(_ =>
        {
            var (dy, dx) = shift == 0 ? (0, 0) : (rng.NextInt(2 * shift + 1) - shift, rng.NextInt(2 * shift + 1) - shift);
            return new Move(dy, dx, flip && rng.NextInt(2) == 1);
        }).ToArray();
        return Make(data, idx[start..(start + count)], moves[start..(start + count)], mean, std);
    }

    /// <summary>An augmentation of one image: mirrored left–right (when <paramref name="Flip"/>), then shifted by (dy, dx).</summary>
    public readonly record struct Move(int Dy, int Dx, bool Flip);

    /// <summary>Images <paramref name="idx"/> of <paramref name="set"/>, each moved by its <see cref="Move"/> (vacated pixels
    /// 0), minus <paramref name="mean"/>, over <paramref name="std"/>: x [B, Ch, H, W], labels y [B] (int64).</summary>
    public static (Tensor X, Tensor Y) Make(ImageSet set, IReadOnlyList<int> idx, Move[]? moves, float[] mean, float[] std)
    {
        int ch = set.Channels, h = set.Height, w = set.Width, n = set.ImageSize;
        var x = new float[idx.Count * n];
        var y = new long[idx.Count];
        for (int b = 0; b < idx.Count; b++)
        {
            var (dy, dx, flip) = moves?[b] ?? default;
            var src = set.Pixels.AsSpan(idx[b] * n, n);
            var dst = x.AsSpan(b * n, n);
            for (int c = 0; c < ch; c++)
            {
                float m = mean[c], s = 1 / std[c];
                for (int r = 0; r < h; r++)
                {
                    int sr = r - dy;
                    for (int col = 0; col < w; col++)
                    {
                        int sc = flip ? w - 1 - (col - dx) : col - dx;
                        float v = (uint)sr < (uint)h && (uint)sc < (uint)w ? src[c * h * w + sr * w + sc] : 0f;
                        dst[c * h * w + r * w + col] = (v - m) * s;
                    }
                }
            }
            y[b] = set.Labels[idx[b]];
        }
        return (Tensor.FromArray(x, [idx.Count, ch, h, w]), Tensor.FromArray(y, [idx.Count]));
    }
}
