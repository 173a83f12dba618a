namespace Attend.Data;

/// <summary>
/// Labelled images in memory: N images of Ch × H × W pixels in [0, 1] (row-major, channel-major per image, as a
/// [N, Ch, H, W] tensor), a label 0..K−1 for each and the K class names.
/// </summary>
public sealed class ImageSet
{
    /// <summary>Wraps the arrays without copying them.</summary>
    /// <param name="pixels">N · Ch · H · W values, image after image, each [Ch, H, W] row-major.</param>
    /// <param name="labels">N labels, each in [0, <paramref name="classes"/>.Length).</param>
    /// <param name="channels">Ch, e.g. 1 for grayscale.</param>
    /// <param name="height">H in pixels.</param>
    /// <param name="width">W in pixels.</param>
    /// <param name="classes">the K class names, indexed by label.</param>
    /// <exception cref="ArgumentException">The pixel count does not match, or a label is outside the classes.</exception>
    public ImageSet(float[] pixels, int[] labels, int channels, int height, int width, string[] classes)
    {
        if (pixels.Length != labels.Length * channels * height * width)
            throw new ArgumentException($"{pixels.Length} pixels for {labels.Length} images of {channels}×{height}×{width}");
        foreach (int y in labels)
            if ((uint)y >= (uint)classes.Length) throw new ArgumentException($"label {y} outside the {classes.Length} classes");
        (Pixels, Labels, Channels, Height, Width, Classes) = (pixels, labels, channels, height, width, classes);
    }

    /// <summary>All pixels, [N, Ch, H, W] flattened row-major (image i starts at i · <see cref="ImageSize"/>).</summary>
    public float[] Pixels { get; }
    /// <summary>The label of each image, [N], in [0, K).</summary>
    public int[] Labels { get; }
    /// <summary>Channels per image (Ch).</summary>
    public int Channels { get; }
    /// <summary>Image height in pixels (H).</summary>
    public int Height { get; }
    /// <summary>Image width in pixels (W).</summary>
    public int Width { get; }
    /// <summary>The K class names; label k names <c>Classes[k]</c>.</summary>
    public string[] Classes { get; }
    /// <summary>The number of images (N).</summary>
    public int Count => Labels.Length;
    /// <summary>Values per image, Ch · H · W.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageSet Subset(IReadOnlyList<int> indices)
    {
        int n = ImageSize;
        var pixels = new float[indices.Count * n];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Array.Copy(Pixels, (long)indices[i] * n, pixels, (long)i * n, n);
            labels[i] = Labels[indices[i]];
        }
        return new ImageSet(pixels, labels, Channels, Height, Width, Classes);
    }

    /// <summary>A stratified split: in each class, a seeded shuffle (<see cref="SplitMix64"/>) puts
    /// round(<paramref name="testFraction"/> · n) images in the test part and the rest in the training part.</summary>
    public (ImageSet Train, ImageSet Test) StratifiedSplit(double testFraction, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var train = new List<int>();
        var test = new List<int>();
        for (int k = 0; k < Classes.Length; k++)
        {
            var idx = Enumerable.Range(0, Count).Where(i => Labels[i] == k).ToArray();
            rng.Shuffle(idx);
            int nTest = (int)Math.Round(testFraction * idx.Length);
            test.AddRange(idx[..nTest]);
            train.AddRange(idx[nTest..]);
        }
        train.Sort();
        test.Sort();
        return (Subset(train), Subset(test));
    }

    /// <summary>Per-channel mean and standard deviation over all pixels (float64 sums).</summary>
    public (float[] Mean, float[] Std) Statistics()
    {
        var mean = new float[Channels];
        var std = new float[Channels];
        int hw = Height * Width;
        for (int c = 0; c < Channels; c++)
        {
            double s = 0, s2 = 0;
            for (int i = 0; i < Count; i++)
                foreach (float v in Pixels.AsSpan(i * ImageSize + c * hw, hw)) { s += v; s2 += (double)v * v; }
            double n = (double)Count * hw, m = s / n;
            mean[c] = (float)m;
            std[c] = (float)Math.Max(Math.Sqrt(Math.Max(s2 / n - m * m, 0)), 1e-3);
        }
        return (mean, std);
    }
}
