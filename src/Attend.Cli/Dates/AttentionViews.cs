using Attend.Nn;
using Attend.Cli.Ui;

namespace Attend.Cli.Dates;

/// <summary>
/// Cross-attention pictures of the trained date model (<see cref="DateTask"/>): rows = output characters, columns = input characters,
/// shade = weight (head-averaged, last decoder layer), scaled so that the largest weight of the grid is full colour.
/// In the terminal as ANSI 256-colour blocks (plain shading characters when stdout is redirected, NO_COLOR is set or
/// TERM is dumb) and as a PNG heatmap per example (<see cref="Heatmap"/>).
/// </summary>
public static class AttentionViews
{

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
            string[] Chars(string t) => t.Select(c => c.ToString()).ToArray();
            Heatmap.Write(path, Heatmap.Encode($"{examples[i]}  →  {output}", Chars(output), Chars(examples[i]), w));
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

    static float Max(float[,] w)
    {
        float m = 1e-12f;
        foreach (var v in w) m = Math.Max(m, v);
        return m;
    }
}
