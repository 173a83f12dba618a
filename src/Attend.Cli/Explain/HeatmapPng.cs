using Attend.Cli.Dates;
using SkiaSharp;

namespace Attend.Cli.Explain;

/// <summary>
/// PNG heatmaps with a token label on both axes (rows: queries, on the left; columns: keys, on top, rotated when longer
/// than one character), in the quickstart's viridis colours (<see cref="AttentionViews"/>), scaled so that the largest
/// weight is full colour.
/// </summary>
public static class HeatmapPng
{
    const int Margin = 12, TitleHeight = 30;

    public static byte[] Encode(string title, string[] rows, string[] cols, double[,] w)
    {
        if (w.GetLength(0) != rows.Length || w.GetLength(1) != cols.Length)
            throw new ArgumentException($"heatmap: a [{w.GetLength(0)}, {w.GetLength(1)}] map with {rows.Length} row and {cols.Length} column labels");
        int cell = Math.Clamp(640 / Math.Max(1, Math.Max(rows.Length, cols.Length)), 8, 24);
        var typeface = AttentionViews.LoadFont();
        using var font = typeface is null ? null : new SKFont(typeface, Math.Min(14, cell - 2));
        float Width(string s) => font is null ? 0 : font.MeasureText(Show(s));
        bool rotate = cols.Any(c => Show(c).Length > 1);
        int left = Margin + (int)Math.Ceiling(rows.Select(Width).DefaultIfEmpty(0).Max()) + 6;
        int top = TitleHeight + (rotate ? (int)Math.Ceiling(cols.Select(Width).DefaultIfEmpty(0).Max()) + 6 : cell);
        using var titleFont = typeface is null ? null : new SKFont(typeface, 14);
        int titleWidth = titleFont is null ? 0 : (int)Math.Ceiling(titleFont.MeasureText(title)) + 2 * Margin;
        int width = Math.Max(Math.Max(320, titleWidth), left + cols.Length * cell + Margin), height = top + rows.Length * cell + Margin;
        using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException("SkiaSharp: no surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        double max = 1e-12;
        foreach (var v in w) max = Math.Max(max, v);
        using var fill = new SKPaint { IsAntialias = false };
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < cols.Length; j++)
            {
                fill.Color = AttentionViews.Viridis((float)(w[i, j] / max));
                canvas.DrawRect(left + j * cell, top + i * cell, cell, cell, fill);
            }
        if (font is not null)
        {
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText(title, Margin, 20, SKTextAlign.Left, titleFont!, ink);
            for (int i = 0; i < rows.Length; i++)
                canvas.DrawText(Show(rows[i]), left - 4, top + i * cell + cell / 2f + font.Size / 3, SKTextAlign.Right, font, ink);
            for (int j = 0; j < cols.Length; j++)
            {
                float x = left + j * cell + cell / 2f;
                if (!rotate) { canvas.DrawText(Show(cols[j]), x, top - 6, SKTextAlign.Center, font, ink); continue; }
                canvas.Save();
                canvas.Translate(x + font.Size / 3, top - 4);
                canvas.RotateDegrees(-90);
                canvas.DrawText(Show(cols[j]), 0, 0, SKTextAlign.Left, font, ink);
                canvas.Restore();
            }
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static byte[] Encode(string title, string[] rows, string[] cols, float[,] w)
    {
        var d = new double[w.GetLength(0), w.GetLength(1)];
        for (int i = 0; i < d.GetLength(0); i++)
            for (int j = 0; j < d.GetLength(1); j++) d[i, j] = w[i, j];
        return Encode(title, rows, cols, d);
    }

    static string Show(string t) => t switch { " " => "␣", "\n" => "⏎", "" => "∅", _ => t };
}
