using SkiaSharp;

namespace Attend.Cli.Ui;

/// <summary>
/// PNG heatmaps of attention weights, the one picture every command draws: a token label on both axes (rows: queries,
/// on the left; columns: keys, on top, rotated when longer than one character), a title, viridis colours scaled so that
/// the largest weight is full colour. Text is drawn with DejaVu Sans loaded by file (SkiaSharp draws no text without a font).
/// </summary>
public static class Heatmap
{
    public const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    const int Margin = 12, TitleHeight = 30;

    public static byte[] Encode(string title, string[] rows, string[] cols, double[,] w)
    {
        if (w.GetLength(0) != rows.Length || w.GetLength(1) != cols.Length)
            throw new ArgumentException($"heatmap: a [{w.GetLength(0)}, {w.GetLength(1)}] map with {rows.Length} row and {cols.Length} column labels");
        int cell = Math.Clamp(640 / Math.Max(1, Math.Max(rows.Length, cols.Length)), 8, 24);
        var typeface = LoadFont();
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
                fill.Color = Viridis((float)(w[i, j] / max));
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

    /// <summary>Writes <paramref name="png"/> to <paramref name="path"/> through a temporary file and a rename.</summary>
    public static void Write(string path, byte[] png)
    {
        string temp = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            File.WriteAllBytes(temp, png);
            File.Move(temp, path, overwrite: true);
        }
        finally { if (File.Exists(temp)) File.Delete(temp); }
    }

    static SKTypeface? typeface;
    static bool warned;

    /// <summary>DejaVu Sans by file; null, with one message, if missing.</summary>
    public static SKTypeface? LoadFont()
    {
        if (typeface is not null) return typeface;
        if (File.Exists(FontPath)) typeface = SKTypeface.FromFile(FontPath);
        if (typeface is null && !warned)
        {
            warned = true;
            Console.Error.WriteLine($"note: no font at {FontPath} (Debian/Ubuntu: apt-get install fonts-dejavu-core); the PNG heatmaps have no labels.");
        }
        return typeface;
    }

    /// <summary>Linear interpolation between five samples of matplotlib's viridis (dark purple → yellow), v in [0, 1].</summary>
    public static SKColor Viridis(float v)
    {
        (byte R, byte G, byte B)[] stops = { (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37) };
        float x = Math.Clamp(v, 0, 1) * (stops.Length - 1);
        int i = Math.Min((int)x, stops.Length - 2);
        float f = x - i;
        byte Mix(byte a, byte b) => (byte)(a + (b - a) * f + 0.5f);
        return new SKColor(Mix(stops[i].R, stops[i + 1].R), Mix(stops[i].G, stops[i + 1].G), Mix(stops[i].B, stops[i + 1].B));
    }
}
