using System.Text.Json.Nodes;
using Attend.Cli.Dates;
using Attend.Interpret;
using Attend.IO;

namespace Attend.Cli.Explain;

/// <summary>The quickstart's checkpoint: <c>attend quickstart</c> saves the model to OUT/model.</summary>
public static class DateCheckpoint
{
    public const string Kind = "attend-dates";
    public const int Version = 1;

    public static void Save(DateModel model, string dir)
    {
        var c = model.Config;
        var json = new JsonObject
        {
            ["kind"] = Kind, ["version"] = Version, ["d_model"] = c.DModel, ["heads"] = c.Heads, ["encoder_layers"] = c.EncoderLayers,
            ["decoder_layers"] = c.DecoderLayers, ["feed_forward"] = c.FeedForward,
        }.ToJsonString();
        Checkpoint.Save(dir, model.StateDict(), null, json);
    }

    /// <exception cref="ArgumentException">not a quickstart checkpoint, or a malformed one.</exception>
    public static DateModel Load(string dir)
    {
        using var data = Checkpoint.Load(dir);
        try
        {
            var o = JsonNode.Parse(data.ConfigJson)!;
            if (o["kind"]?.GetValue<string>() != Kind || o["version"]?.GetValue<int>() != Version)
                throw new ArgumentException($"'{dir}' is not a version-{Version} date quickstart checkpoint");
            var cfg = new DateConfig(o["d_model"]!.GetValue<int>(), o["heads"]!.GetValue<int>(), o["encoder_layers"]!.GetValue<int>(),
                o["decoder_layers"]!.GetValue<int>(), o["feed_forward"]!.GetValue<int>());
            var model = new DateModel(cfg, new Random(0));
            model.LoadStateDict(data.Weights);
            model.Eval();
            return model;
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException or FormatException or System.Text.Json.JsonException)
        {
            throw new ArgumentException($"'{dir}': malformed date quickstart config ({ex.Message})");
        }
    }
}

/// <summary>Dates: characters in, the ISO date out; encoder, decoder self- and cross-attention.</summary>
public sealed class DateExplainer(DateModel model) : IAttentionExplainer
{
    public string Description => $"date normalizer (quickstart): encoder-decoder Transformer, d_model {model.Config.DModel}, {model.Config.Heads} heads, " +
                                 $"{model.Config.EncoderLayers}+{model.Config.DecoderLayers} layers, characters → ISO date";
    public string Example => AttentionViews.Examples()[0];
    public int MaxInput => DateModel.MaxSource;

    public Explanation Explain(string input)
    {
        input = input.Trim();
        if (input.Length == 0) throw Explainers.Bad("the input is empty: type a date, e.g. \"Tuesday 24 Nov 2026\"");
        if (input.Length > MaxInput) throw Explainers.Bad($"the input has {input.Length} characters; this model reads at most {MaxInput}");
        int bad = input.IndexOf(input.FirstOrDefault(c => !DateFormats.Alphabet.Contains(c)));
        if (bad >= 0) throw Explainers.Bad($"character '{input[bad]}' at position {bad + 1} is not in the model's alphabet ({DateFormats.Alphabet.Trim()})");

        string output = model.Translate(new[] { input })[0];
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        using var capture = AttentionCapture.Start(model);
        var (src, pad) = DateVocab.Sources(new[] { input });
        var (decIn, _) = DateVocab.Targets(new[] { output.Replace('?', '0') });
        model.Forward(src, pad, decIn);
        string[] chars = input.Select(c => c.ToString()).ToArray(), written = output.Select(c => c.ToString()).ToArray();
        string[] decoderInput = ["<s>", .. written[..^1]];
        return new Explanation("dates", input, output, Explainers.EncoderDecoderViews(capture.Records, chars, decoderInput, written));
    }
}
