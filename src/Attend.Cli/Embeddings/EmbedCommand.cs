using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Attend.Cli.Ui;

namespace Attend.Cli.Embeddings;

/// <summary>
/// <c>attend embed [--model minilm] [--format json|jsonl|tsv] [--query] [TEXT…]</c>: sentence embeddings, one per text
/// (the arguments, or else the non-empty lines of stdin), to stdout:
/// <code>
/// json    [{"text": "…", "embedding": [0.0123, …]}, …]           one object per line inside the array
/// jsonl   {"text": "…", "embedding": [0.0123, …]}                 one object per line, no array
/// tsv     text TAB v1 TAB v2 …                                    tab, newline and backslash in the text as \t \n \\
/// </code>
/// Floats are written in their shortest round-trip form. Notices (a download, truncation of texts over 512 word pieces,
/// progress for many texts) go to stderr, so stdout is only the embeddings.
/// </summary>
public static class EmbedCommand
{
    public static Command Create()
    {
        var model = ModelOption();
        var format = new Option<string>("--format") { Description = "json (an array of {text, embedding}), jsonl (one object per line) or tsv (text, then the values)", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "jsonl", "tsv");
        var query = new Option<bool>("--query") { Description = "the texts are search queries: arctic puts its query instruction in front (minilm is symmetric: no change)" };
        var texts = new Argument<string[]>("text") { Description = "texts to embed (none: one per line of stdin)", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("embed", "Sentence embeddings of texts with a pretrained BERT encoder (L2-normalized; cosine similarity = dot product).")
        {
            model, format, query, texts,
        };
        cmd.SetAction(pr => CliChecks.Guard(() => Run(pr.GetValue(model)!, pr.GetValue(texts) ?? [], pr.GetValue(format)!, pr.GetValue(query), Console.In, Console.Out, Console.Error)));
        return cmd;
    }

    /// <summary>The --model option of the BERT commands (default minilm).</summary>
    public static Option<string> ModelOption() => new("--model") { Description = BertModels.Help, DefaultValueFactory = _ => "minilm" };

    /// <summary>The command: texts from <paramref name="args"/> or else <paramref name="stdin"/>, embeddings to
    /// <paramref name="stdout"/>, notices to <paramref name="log"/>; the model is loaded once the texts are read.</summary>
    public static int Run(string modelName, string[] args, string format, bool queries, TextReader stdin, TextWriter stdout, TextWriter log) =>
        Run(() => BertModels.Load(modelName, log), args, format, queries, stdin, stdout, log);

    public static int Run(Func<SentenceEncoder> model, string[] args, string format, bool queries, TextReader stdin, TextWriter stdout, TextWriter log)
    {
        for (int i = 0; i < args.Length; i++)
            if (string.IsNullOrWhiteSpace(args[i])) throw new CliException($"text {i + 1} is empty; give texts to embed");
        string[] texts = args;
        bool fromStdin = args.Length == 0;
        if (fromStdin)
        {
            if (ReferenceEquals(stdin, Console.In) && !Console.IsInputRedirected) log.WriteLine("reading texts from stdin, one per line (Ctrl-D to end)");
            var lines = new List<string>();
            for (string? line; (line = stdin.ReadLine()) is not null;)
                if (!string.IsNullOrWhiteSpace(line)) lines.Add(line);
            texts = lines.ToArray();
            if (texts.Length == 0) throw new CliException("no text to embed: give texts as arguments, or lines on stdin");
        }
        var encoder = model();
        float[][] vectors = texts.Length > 64
            ? CountProgress.Run(log, "embedding", texts.Length, "texts", p => encoder.Embed(texts, queries, log, Name, p))
            : encoder.Embed(texts, queries, log, Name);
        Write(stdout, format, texts, vectors);
        return 0;

        string Name(int i) => fromStdin ? $"text {i + 1} (line {i + 1} of the non-empty lines)" : $"text {i + 1}";
    }

    /// <summary>The embeddings in <paramref name="format"/> (see the type).</summary>
    public static void Write(TextWriter w, string format, IReadOnlyList<string> texts, IReadOnlyList<float[]> vectors)
    {
        switch (format)
        {
            case "tsv":
                foreach (var (t, v) in texts.Zip(vectors))
                    w.WriteLine(Escape(t) + "\t" + string.Join('\t', v.Select(x => x.ToString("R", CultureInfo.InvariantCulture))));
                break;
            case "jsonl":
                foreach (var (t, v) in texts.Zip(vectors)) w.WriteLine(Json(t, v));
                break;
            case "json":
                w.WriteLine("[");
                for (int i = 0; i < texts.Count; i++) w.WriteLine(Json(texts[i], vectors[i]) + (i + 1 < texts.Count ? "," : ""));
                w.WriteLine("]");
                break;
            default: throw new CliException($"--format must be json, jsonl or tsv, not '{format}'");
        }
        w.Flush();
    }

    static string Json(string text, float[] v)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            j.WriteStartObject();
            j.WriteString("text", text);
            j.WriteStartArray("embedding");
            foreach (float x in v) j.WriteNumberValue(x);
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    static string Escape(string t) => t.Replace("\\", "\\\\").Replace("\t", "\\t").Replace("\n", "\\n").Replace("\r", "\\r");
}
