using Attend.Data;
using Attend.Cli.Vision;
using Attend.Interpret;
using Attend.Nn;
using SkiaSharp;

namespace Attend.Cli.Explain;

/// <summary>
/// A ViT classifier (<c>attend train vit</c>): an image file in, decoded, resized and inverted exactly as
/// <c>attend classify</c> does (<see cref="ImageFiles.Decode"/>, border rule), normalized as in training; out the class,
/// every block's self-attention over [CLS] + patches, and PNGs of the [CLS] row (per block, head average, and the
/// rollout) over the input's patch grid.
/// </summary>
public sealed class VitExplainer(VisionTransformer model, VitModelConfig config) : IMediaExplainer
{
    /// <summary>The largest image file read (the explorer's uploads are limited further, to <see cref="ServeCommand.MaxFile"/>).</summary>
    public const int MaxFile = 64 * 1024 * 1024;
    public VitModelConfig Config => config;

    /// <exception cref="VisionException">no ViT checkpoint there.</exception>
    public static VitExplainer Load(string dir)
    {
        var (m, c) = VitTraining.Load(dir);
        return new VitExplainer(m, c);
    }

    public string Description => $"image classifier (attend train vit, {config.Data}): ViT {config.Vit.ImageSize}×{config.Vit.ImageSize}×{config.Vit.Channels}, " +
                                 $"patches {config.Vit.PatchSize}px ({config.Vit.GridSize}×{config.Vit.GridSize}), {config.Vit.Depth} blocks, {config.Vit.NHead} heads, " +
                                 $"{config.Classes.Length} classes";
    public string Example => "";
    public int MaxInput => 0;
    public string Accept => "image/*";
    public bool TakesText => false;

    public Explanation Explain(string input) => ExplainText(input).Explanation;

    public MediaExplanation ExplainText(string text) =>
        throw Explainers.Bad($"'{(text.Length > 60 ? text[..60] + "…" : text)}' is not an image file: this is an image model, give it a PNG, JPEG, BMP, GIF or WebP file (--input FILE, or upload one)");

    public MediaExplanation ExplainFile(byte[] bytes, string name)
    {
        if (bytes.Length > MaxFile) throw Explainers.Bad($"{name} is {bytes.Length} bytes; at most {MaxFile}");
        var v = config.Vit;
        float[] img;
        string note;
        try { img = ImageFiles.Decode(bytes, name, v.ImageSize, v.Channels, out note); }
        catch (VisionException ex) { throw Explainers.Bad(ex.Message); }
        if ((VitClassifier.Border(img, v.Channels, v.ImageSize) > 0.5f) != (config.Background > 0.5f))
        {
            for (int j = 0; j < img.Length; j++) img[j] = 1 - img[j];
            note = note.Length == 0 ? "inverted" : note + ", inverted";
        }
        var set = new ImageSet(img, new int[1], v.Channels, v.ImageSize, v.ImageSize, config.Classes);
        var (x, _) = ImageBatches.Make(set, [0], null, config.Mean, config.Std);             // (1, Ch, H, W)
        var e = VisionTransformerExplainer.Explain(model, x, config.Classes, note.Length == 0 ? name : $"{name} ({note})");
        var pngs = ClsGrids(e).Select(g => ($"png/{g.Slug}-cls-grid.png", OverlayPng($"{g.Label}: [CLS] → patches  ({e.Output})", img, v.Channels, v.ImageSize, g.Grid))).ToList();
        return new MediaExplanation(e, pngs);
    }

    /// <summary>The [CLS] row over the patch grid of each block (head average) and of the rollout: (label, slug, [rows, cols]).</summary>
    public static List<(string Label, string Slug, double[,] Grid)> ClsGrids(Explanation e)
    {
        int n = e.PatchGrid![0], m = e.PatchGrid[1];
        var grids = e.Views.Select(view => (view.Label, view.Label.Replace(' ', '-'), VisionTransformerExplainer.ClsOverGrid(AttentionAnalysis.Mean(view.Maps), n, m))).ToList();
        foreach (var s in e.Stacks()) grids.Add(($"{s.Stack} rollout", $"{s.Stack}-rollout", VisionTransformerExplainer.ClsOverGrid(s.Rollout, n, m)));
        return grids;
    }

    /// <summary>The image as the model saw it (before normalization), scaled up, with the grid weights as a translucent
    /// red overlay (largest weight most opaque) and the patch borders.</summary>
    public static byte[] OverlayPng(string title, float[] img, int channels, int size, double[,] grid)
    {
        int rows = grid.GetLength(0), cols = grid.GetLength(1), scale = Math.Max(1, 320 / size), side = size * scale, top = 30, margin = 12;
        var typeface = Ui.Heatmap.LoadFont();
        using var titleFont = typeface is null ? null : new SKFont(typeface, 13);
        int width = Math.Max(side + 2 * margin, titleFont is null ? 0 : (int)titleFont.MeasureText(title) + 2 * margin);
        using var surface = SKSurface.Create(new SKImageInfo(width, top + side + margin)) ?? throw new InvalidOperationException("SkiaSharp: no surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var fill = new SKPaint { IsAntialias = false };
        int hw = size * size;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                byte Ch(int k) => (byte)Math.Round(255 * Math.Clamp(img[(channels == 1 ? 0 : k * hw) + r * size + c], 0f, 1f));
                fill.Color = new SKColor(Ch(0), Ch(1), Ch(2));
                canvas.DrawRect(margin + c * scale, top + r * scale, scale, scale, fill);
            }
        double max = 1e-12;
        foreach (var w in grid) max = Math.Max(max, w);
        float ph = side / (float)rows, pw = side / (float)cols;
        using var line = new SKPaint { Color = new SKColor(255, 255, 255, 90), IsStroke = true, StrokeWidth = 1 };
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                fill.Color = new SKColor(255, 40, 0, (byte)Math.Round(190 * grid[r, c] / max));
                canvas.DrawRect(margin + c * pw, top + r * ph, pw, ph, fill);
                canvas.DrawRect(margin + c * pw, top + r * ph, pw, ph, line);
            }
        if (titleFont is not null)
        {
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText(title, margin, 20, SKTextAlign.Left, titleFont, ink);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
