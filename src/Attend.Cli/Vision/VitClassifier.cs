using Attend.Data;
namespace Attend.Cli.Vision;

/// <summary>One classified image: its most likely classes (best first) and what was done to fit it to the model.</summary>
public sealed record Classification(string Path, IReadOnlyList<(string Class, float Probability)> Top, string Note);

/// <summary>
/// <c>attend classify</c>: each image is decoded, converted to the model's channels and size (<see cref="ImageFiles.Load"/>),
/// inverted when its border brightness is on the other side of 0.5 from the training images' (so a black digit on white
/// paper meets a model trained on white-on-black digits), normalized as in training and classified.
/// </summary>
public static class VitClassifier
{
    public static IReadOnlyList<Classification> Run(string modelDir, IReadOnlyList<string> paths, int top, string invert)
    {
        if (top < 1) throw new VisionException($"--top must be at least 1, not {top}");
        var (model, cfg) = VitTraining.Load(modelDir);
        var v = cfg.Vit;
        int n = v.Channels * v.ImageSize * v.ImageSize;
        var pixels = new float[paths.Count * n];
        var notes = new string[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            var img = ImageFiles.Load(paths[i], v.ImageSize, v.Channels, out string note);
            var parts = new List<string> { $"{(v.Channels == 1 ? "grey" : "RGB")} {v.ImageSize}×{v.ImageSize}" };
            if (note.Length > 0) parts.Add(note);
            if (invert == "always" || (invert == "auto" && (Border(img, v.Channels, v.ImageSize) > 0.5f) != (cfg.Background > 0.5f)))
            {
                for (int j = 0; j < img.Length; j++) img[j] = 1 - img[j];
                parts.Add("inverted");
            }
            img.CopyTo(pixels, i * n);
            notes[i] = string.Join(", ", parts);
        }
        var set = new ImageSet(pixels, new int[paths.Count], v.Channels, v.ImageSize, v.ImageSize, cfg.Classes);
        var probs = VitTraining.Probabilities(model, set, cfg);
        int k = cfg.Classes.Length;
        return Enumerable.Range(0, paths.Count).Select(i => new Classification(paths[i],
            Enumerable.Range(0, k).OrderByDescending(j => probs[i * k + j]).Take(Math.Min(top, k)).Select(j => (cfg.Classes[j], probs[i * k + j])).ToArray(),
            notes[i])).ToArray();
    }

    /// <summary>Mean of the outermost pixels of an image [Ch, S, S].</summary>
    public static float Border(float[] img, int channels, int s)
    {
        double sum = 0; int count = 0;
        for (int c = 0; c < channels; c++)
            for (int r = 0; r < s; r++)
                for (int col = 0; col < s; col++)
                    if (r == 0 || r == s - 1 || col == 0 || col == s - 1) { sum += img[c * s * s + r * s + col]; count++; }
        return (float)(sum / count);
    }
}
