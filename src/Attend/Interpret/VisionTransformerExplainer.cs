using Attend.Nn;

namespace Attend.Interpret;

/// <summary>
/// A <see cref="VisionTransformer"/>'s attention over its patches: token 0 is [CLS], tokens 1…N the patches in row-major
/// order of the image's grid (labelled "rRcC"). <see cref="Explanation.PatchGrid"/> tells the views to draw the [CLS]
/// row of the rollout over the grid; <see cref="ClsOverGrid"/> does that reshaping.
/// </summary>
public static class VisionTransformerExplainer
{
    /// <summary>The model's prediction for one image [Ch, H, W] (or [1, Ch, H, W]) and every block's attention.</summary>
    /// <param name="model">the classifier (put back in its training mode afterwards).</param>
    /// <param name="image">[Ch, H, W] or [1, Ch, H, W], as the model was trained on.</param>
    /// <param name="classNames">names of the classes (default: their numbers).</param>
    /// <param name="input">what to call the image in the views (e.g. its file name).</param>
    public static Explanation Explain(VisionTransformer model, Tensor image, IReadOnlyList<string>? classNames = null, string input = "image")
    {
        var c = model.Config;
        if (classNames is not null && classNames.Count != c.NumClasses)
            throw new ArgumentException($"ViT explain: {classNames.Count} class names for {c.NumClasses} classes");
        var batch = image.Rank == 3 ? image.Unsqueeze(0) : image;
        if (batch.Rank != 4 || batch.Size(0) != 1)
            throw new ArgumentException($"ViT explain: one image [{c.Channels}, {c.ImageSize}, {c.ImageSize}] please, got {Shapes.Str(image.ShapeRef)}");
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            using var capture = AttentionCapture.Start(model);
            var probs = Functional.Softmax(model.Forward(batch, allTokens: true), -1).ToArray();   // (1, K); every token of the last block too
            int best = Array.IndexOf(probs, probs.Max());
            var tokens = Tokens(c);
            var views = capture.Records.Select(r => AttentionView.From(r, $"block {r.Site.Split('.')[1]}", "self", "vit", tokens, tokens)).ToList();
            string label = classNames?[best] ?? best.ToString();
            return new Explanation("vit", input, $"{label} ({probs[best] * 100:F1}%)", views) { PatchGrid = new[] { c.GridSize, c.GridSize } };
        }
        finally { model.Train(wasTraining); }
    }

    /// <summary>"[CLS]" then "r0c0", "r0c1", … for the patches.</summary>
    public static string[] Tokens(VitConfig c) =>
        new[] { "[CLS]" }.Concat(Enumerable.Range(0, c.NumPatches).Select(p => $"r{p / c.GridSize}c{p % c.GridSize}")).ToArray();

    /// <summary>Row 0 ([CLS]) of a [N + 1, N + 1] map without its [CLS] column, as the [rows, cols] patch grid.</summary>
    public static double[,] ClsOverGrid(double[,] map, int rows, int cols)
    {
        if (map.GetLength(0) != rows * cols + 1 || map.GetLength(1) != rows * cols + 1)
            throw new ArgumentException($"ViT explain: a [{map.GetLength(0)}, {map.GetLength(1)}] map is not [CLS] + a {rows}×{cols} grid");
        var g = new double[rows, cols];
        for (int p = 0; p < rows * cols; p++) g[p / cols, p % cols] = map[0, 1 + p];
        return g;
    }
}
