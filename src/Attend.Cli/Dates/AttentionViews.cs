using Attend.Nn;
using SkiaSharp;

namespace Attend.Cli.Dates;

/// <summary>
/// Cross-attention pictures of the trained date model (<see cref="DateTask"/>): rows = output characters, columns = input characters,
/// shade = weight (head-averaged, last decoder layer), scaled so that the largest weight of the grid is full colour.
/// In the terminal as ANSI 256-colour blocks (plain shading characters when stdout is redirected, NO_COLOR is set or
/// TERM is dumb) and as a PNG heatmap per example.
/// </summary>
public static class AttentionViews
{
    public const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    const int Cell = 24, Left = 36, Top = 64, Margin = 12, MinWidth = 320;

    /// <summary>Three held-out dates in telling formats: a day name and abbreviated month, 2-digit numeric, ordinal.</summary>
    public static string[] Examples()
    {
        var heldOut = DateFormats.Dates(heldOut: true);
        var d = heldOut.First(x => x >= new DateOnly(2026, 11, 24));
        string Fmt(string name) => DateFormats.All.First(f => f.Name == name).Write(d);
        return new[] { Fmt("dddd d MMM yyyy"), Fmt("dd/MM/yy"), Fmt("MMMM the dth, yyyy") };
    }

    /// <summary>Prints the grid of each example and writes <c>attention-N.png</c> under <paramref name="outDir"/>.</summary>
    public static void Show(Seq2Seq model, string outDir)
    {
        Directory.CreateDirectory(outDir);
        bool color = !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
                     && Environment.GetEnvironmentVariable("TERM") != "dumb";
        var examples = Examples();
        for (int i = 0; i < examples.Length; i++)
        {
            var (output, w) = DateTask.CrossAttention(model, examples[i]);
            Console.WriteLine();
            Console.WriteLine($"Cross-attention, \"{examples[i]}\" → \"{output}\" (rows: output, columns: input):");
            Console.Write(Grid(examples[i], output, w, color));
            var path = Path.Combine(outDir, $"attention-{i + 1}.png");
            WritePng(path, examples[i], output, w);
            Console.WriteLine($"  wrote {path}");
        }
    }

    /// <summary>The terminal grid: a header of input characters, then one line per output character.</summary>
    public static string Grid(string source, string output, float[,] w, bool color)
    {
        const string shades = " ░▒▓█";
        // black → red → orange → yellow → white in the xterm 256-colour cube
        int[] heat = { 16, 52, 88, 124, 160, 196, 202, 208, 214, 220, 226, 227, 228, 229, 230, 231 };
        float max = Max(w);
        var sb = new System.Text.StringBuilder();
        sb.Append("    ").AppendJoin("", source.Select(c => c + " ")).AppendLine();
        for (int t = 0; t < output.Length; t++)
        {
            sb.Append("  ").Append(output[t]).Append(' ');
            for (int s = 0; s < source.Length; s++)
            {
                float v = w[t, s] / max;                                                   // 0…1
                if (color) sb.Append($"\e[48;5;{heat[(int)(v * (heat.Length - 1) + 0.5f)]}m  ");
                else sb.Append(shades[(int)(v * (shades.Length - 1) + 0.5f)], 2);
            }
            if (color) sb.Append("\e[0m");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>The PNG's size for a grid of <paramref name="rows"/> × <paramref name="cols"/>.</summary>
    public static (int Width, int Height) PngSize(int rows, int cols) =>
        (Math.Max(MinWidth, Left + cols * Cell + Margin), Top + rows * Cell + Margin);

    /// <summary>A heatmap with viridis-like colours, input characters on top, output characters on the left.</summary>
    public static void WritePng(string path, string source, string output, float[,] w)
    {
        var (width, height) = PngSize(output.Length, source.Length);
        using var surface = SKSurface.Create(new SKImageInfo(width, height)) ?? throw new InvalidOperationException("SkiaSharp: no surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        float max = Max(w);
        using var fill = new SKPaint { IsAntialias = false };
        for (int t = 0; t < output.Length; t++)
            for (int s = 0; s < source.Length; s++)
            {
                fill.Color = Viridis(w[t, s] / max);
                canvas.DrawRect(Left + s * Cell, Top + t * Cell, Cell, Cell, fill);
            }
        if (LoadFont() is { } typeface)
        {
            using var font = new SKFont(typeface, 15);
            using var title = new SKFont(typeface, 14);
            using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            canvas.DrawText($"{source}  →  {output}", Margin, 22, SKTextAlign.Left, title, ink);
            for (int s = 0; s < source.Length; s++)
                canvas.DrawText(source[s].ToString(), Left + s * Cell + Cell / 2f, Top - 8, SKTextAlign.Center, font, ink);
            for (int t = 0; t < output.Length; t++)
                canvas.DrawText(output[t].ToString(), Left - 12, Top + t * Cell + Cell / 2f + 5, SKTextAlign.Center, font, ink);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }

    static SKTypeface? typeface;
    static bool warned;

    /// <summary>DejaVu Sans by file (SkiaSharp draws no text at all without a font); null, with one message, if missing.</summary>
    internal static SKTypeface? LoadFont()
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

    static float Max(float[,] w)
    {
        float m = 1e-12f;
        foreach (var v in w) m = Math.Max(m, v);
        return m;
    }

    /// <summary>The heatmap colour of a weight scaled to [0, 1].</summary>
    public static SKColor Color(float v) => Viridis(v);

    /// <summary>Linear interpolation between five samples of matplotlib's viridis (dark purple → yellow).</summary>
    internal static SKColor Viridis(float v)
    {
        (byte R, byte G, byte B)[] stops = { (68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37) };
        float x = Math.Clamp(v, 0, 1) * (stops.Length - 1);
        int i = Math.Min((int)x, stops.Length - 2);
        float f = x - i;
        byte Mix(byte a, byte b) => (byte)(a + (b - a) * f + 0.5f);
        return new SKColor(Mix(stops[i].R, stops[i + 1].R), Mix(stops[i].G, stops[i + 1].G), Mix(stops[i].B, stops[i + 1].B));
    }
}
