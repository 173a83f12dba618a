using Attend.Cli.Dates;
using SkiaSharp;

namespace Attend.Cli;

/// <summary>A word-level attention heatmap: rows = output tokens, columns = input tokens (labels slanted), shade = weight
/// scaled so that the grid's largest weight is full colour — the word-level sibling of <see cref="AttentionViews.WritePng"/>.</summary>
public static class AttentionPng
{
    const int Cell = 26, Margin = 10;

    public static void Write(string path, string[] columns, string[] rows, float[,] w)
    {
        if (w.GetLength(0) != rows.Length || w.GetLength(1) != columns.Length)
            throw new ArgumentException($"heatmap: weights are {w.GetLength(0)}×{w.GetLength(1)} but there are {rows.Length} row and {columns.Length} column labels");
        int left = Margin + 8 * Math.Max(1, rows.Max(r => r.Length)) + 8;
        int top = Margin + (int)(0.62 * 8 * Math.Max(1, columns.Max(c => c.Length))) + 16;
        int width = left + columns.Length * Cell + Margin + 40, height = top + rows.Length * Cell + Margin;
        using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException("SkiaSharp: no surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        float max = 0;
        foreach (float v in w) max = Math.Max(max, v);
        if (max <= 0) max = 1;
        using var fill = new SKPaint { IsAntialias = false };
        for (int t = 0; t < rows.Length; t++)
            for (int s = 0; s < columns.Length; s++)
            {
                fill.Color = AttentionViews.Color(w[t, s] / max);
                canvas.DrawRect(left + s * Cell, top + t * Cell, Cell, Cell, fill);
            }
        var typeface = File.Exists(AttentionViews.FontPath) ? SKTypeface.FromFile(AttentionViews.FontPath) : null;
        if (typeface is not null)
        {
            using var font = new SKFont(typeface, 13);
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            for (int s = 0; s < columns.Length; s++)
            {
                canvas.Save();
                canvas.Translate(left + s * Cell + Cell / 2f + 4, top - 6);
                canvas.RotateDegrees(-60);
                canvas.DrawText(columns[s], 0, 0, SKTextAlign.Left, font, ink);
                canvas.Restore();
            }
            for (int t = 0; t < rows.Length; t++)
                canvas.DrawText(rows[t], left - 6, top + t * Cell + Cell / 2f + 5, SKTextAlign.Right, font, ink);
            typeface.Dispose();
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        string tmp = path + ".tmp";
        using (var file = File.Create(tmp)) data.SaveTo(file);
        File.Move(tmp, path, overwrite: true);
    }
}
