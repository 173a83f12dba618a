using Attend.Cli.Dates;
using Attend.Interpret;
using Attend.Nn;

namespace Attend.Cli.Explain;

/// <summary>Dates: characters in, the ISO date out; encoder, decoder self- and cross-attention.</summary>
public sealed class DateExplainer(Seq2Seq model, DateConfig config) : IAttentionExplainer
{
    public string Description => $"date normalizer (quickstart): encoder-decoder Transformer, d_model {config.DModel}, {config.Heads} heads, " +
                                 $"{config.EncoderLayers}+{config.DecoderLayers} layers, characters → ISO date";
    public string Example => AttentionViews.Examples()[0];
    public int MaxInput => DateConfig.MaxSource;

    public Explanation Explain(string input)
    {
        input = input.Trim();
        if (input.Length == 0) throw Explainers.Bad("the input is empty: type a date, e.g. \"Tuesday 24 Nov 2026\"");
        if (input.Length > MaxInput) throw Explainers.Bad($"the input has {input.Length} characters; this model reads at most {MaxInput}");
        int bad = input.IndexOf(input.FirstOrDefault(c => !DateFormats.Alphabet.Contains(c)));
        if (bad >= 0) throw Explainers.Bad($"character '{input[bad]}' at position {bad + 1} is not in the model's alphabet ({DateFormats.Alphabet.Trim()})");

        string output = DateTask.Predict(model, [input])[0];
        var (src, pad) = DateTask.Sources([input]);
        var (decIn, _) = DateTask.Targets([output.Replace('?', '0')]);
        var records = Seq2SeqAttention.Capture(model, src, pad, decIn);
        string[] chars = input.Select(c => c.ToString()).ToArray(), written = output.Select(c => c.ToString()).ToArray();
        string[] decoderInput = ["<s>", .. written[..^1]];
        return new Explanation("dates", input, output, Seq2SeqAttention.Views(records, chars, decoderInput, written));
    }
}
