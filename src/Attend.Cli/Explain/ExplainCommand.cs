using Attend.Cli.Embeddings;
using Attend.Cli.Ui;
using System.CommandLine;
using System.Text;
using Attend.Interpret;

namespace Attend.Cli.Explain;

/// <summary>
/// <c>attend explain --model CKPT --input "…" --out DIR</c>: runs a trained model on one input with an
/// <see cref="AttentionCapture"/> open and writes what it attended to:
/// <code>
/// DIR/explain.html        head view, model view, rollout/flow, summaries — one self-contained file, opens offline
/// DIR/explanation.json    the weights of every layer and head with token labels (what the HTML reads)
/// DIR/summary.txt         per-head entropy and, per query, the keys it attends to most
/// DIR/png/VIEW.png        per attention site, the head average; DIR/png/VIEW-hN.png per head
/// DIR/png/STACK-rollout.png, STACK-flow.png   attention rollout and flow of each self-attention stack
/// DIR/png/block-N-cls-grid.png, vit-rollout-cls-grid.png   ViT: the [CLS] row over the input image's patch grid
/// DIR/png/spectrogram-alignment.png                         speech: log-mel, DTW word boundaries, alignment heads
/// </code>
/// Image and speech models read a file as --input (an image; a .wav); a speech model also takes words to synthesize.
/// A pretrained BERT encoder (--model minilm, arctic, an ONNX file, a Hugging Face folder) reads a sentence, or a pair
/// given by --pair (or typed "A [SEP] B"): every layer and head over its WordPiece tokens, segment B's labelled "B:…".
/// Every file is written to a temporary name and renamed.
/// </summary>
public static class ExplainCommand
{
    /// <summary>The --model help of explain and serve.</summary>
    public const string ModelHelp = "checkpoint folder (attend quickstart's OUT/model, attend train lm/translate/vit/speech/recall's --out), or a pretrained BERT encoder: " + BertModels.Help;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = ModelHelp, Required = true };
        var input = new Option<string>("--input") { Description = "the text to run the model on (a date, a prompt, a sentence; BERT: a sentence or \"A [SEP] B\"), or for a ViT an image file, for a speech model a .wav file or words to synthesize", Required = true };
        var pair = new Option<string?>("--pair") { Description = "BERT encoders: the second sentence of a pair ([CLS] input [SEP] pair [SEP], token type 1; labelled B:…)" };
        var outDir = new Option<string>("--out") { Description = "folder for the HTML, JSON, summary and PNG heatmaps", DefaultValueFactory = _ => "attend-explain" };
        var cmd = new Command("explain", "Run a trained model on one input and write its attention: HTML head and model views, PNG heatmaps, rollout, flow, summaries.")
        {
            model, input, pair, outDir,
        };
        cmd.SetAction(pr =>
        {
            try
            {
                var explainer = Explainers.Load(pr.GetValue(model)!);
                string text = pr.GetValue(input)!;
                if (pr.GetValue(pair) is { } second)
                {
                    if (explainer is not BertExplainer bert) throw new ArgumentException("--pair is for BERT encoders (--model minilm, arctic, an ONNX file or a Hugging Face folder)");
                    var pe = bert.Explain(text, second);
                    var written = Write(pe, pr.GetValue(outDir)!, Console.Out);
                    Console.WriteLine($"wrote {written.Count} files to {pr.GetValue(outDir)}; open {Path.Combine(pr.GetValue(outDir)!, "explain.html")}");
                    return 0;
                }
                if (explainer is IMediaExplainer && File.Exists(text) && new FileInfo(text).Length > 64 * 1024 * 1024)
                    throw new ArgumentException($"{text} is {new FileInfo(text).Length} bytes; explain reads files of at most 64 MiB");
                var files = explainer is IMediaExplainer media
                    ? Write(File.Exists(text) ? media.ExplainFile(File.ReadAllBytes(text), Path.GetFileName(text)) : media.ExplainText(text), pr.GetValue(outDir)!, Console.Out)
                    : Write(explainer.Explain(text), pr.GetValue(outDir)!, Console.Out);
                Console.WriteLine($"wrote {files.Count} files to {pr.GetValue(outDir)}; open {Path.Combine(pr.GetValue(outDir)!, "explain.html")}");
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: {ex.Message}");
                return 2;
            }
        });
        return cmd;
    }

    /// <summary>Writes every file for <paramref name="m"/> (the explanation's, its pictures, its summary lines).</summary>
    public static List<string> Write(MediaExplanation m, string dir, TextWriter log) => Write(m.Explanation, dir, log, m.Pngs, m.SummaryExtra, m.ToJson());

    /// <summary>Writes every file for <paramref name="e"/> under <paramref name="dir"/>; returns their paths.</summary>
    /// <param name="pageJson">the JSON the HTML page shows (with the pictures, for image and speech models); null: e.ToJson().</param>
    public static List<string> Write(Explanation e, string dir, TextWriter log, IReadOnlyList<(string Name, byte[] Png)>? pngs = null, string summaryExtra = "",
        string? pageJson = null)
    {
        var files = new List<string>();
        Directory.CreateDirectory(Path.Combine(dir, "png"));
        void Put(string name, byte[] bytes)
        {
            string path = Path.Combine(dir, name), temp = $"{path}.tmp-{Guid.NewGuid():N}";
            try
            {
                File.WriteAllBytes(temp, bytes);
                File.Move(temp, path, overwrite: true);
            }
            finally { if (File.Exists(temp)) File.Delete(temp); }
            files.Add(path);
        }
        string summary = e.Summary() + summaryExtra;
        log.WriteLine($"input:  {e.Input}");
        log.WriteLine($"output: {e.Output}");
        if (e.WordTimings is { } words) log.WriteLine($"words:  {string.Join("  ", words.Select(w => $"{w.Word} {w.Start:F2}–{w.End:F2}s"))}");
        if (e.Long is { } lc) log.WriteLine(lc.Summary().Split('\n')[0]);
        if (summaryExtra.Length > 0) log.Write(summaryExtra.TrimStart('\n'));
        foreach (var (name, png) in pngs ?? []) Put(name, png);
        Put("explain.html", Encoding.UTF8.GetBytes(HtmlReport.Static(e, pageJson)));
        Put("explanation.json", Encoding.UTF8.GetBytes(e.ToJson()));
        Put("summary.txt", Encoding.UTF8.GetBytes(summary));
        foreach (var v in e.Views)
        {
            string slug = Slug(v.Label);
            Put($"png/{slug}.png", Heatmap.Encode($"{v.Label}, head average  ({e.Input} → {e.Output})", v.Queries, v.Keys, Interpret.AttentionAnalysis.Mean(v.Maps)));
            for (int n = 0; n < v.Heads.Length; n++)
                Put($"png/{slug}-h{v.Heads[n]}.png", Heatmap.Encode($"{v.Label}, head {v.Heads[n]}", v.Queries, v.Keys, v.Maps[n]));
        }
        foreach (var s in e.Stacks())
        {
            Put($"png/{Slug(s.Stack)}-rollout.png", Heatmap.Encode($"{s.Stack}: attention rollout", s.Tokens, s.Tokens, s.Rollout));
            if (s.Flow is not null) Put($"png/{Slug(s.Stack)}-flow.png", Heatmap.Encode($"{s.Stack}: attention flow", s.Tokens, s.Tokens, s.Flow));
        }
        return files;
    }

    static string Slug(string s) => string.Concat(s.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-'));
}
