using Attend.Cli.Lm;
using Attend.Cli.Translate;
using Attend.Interpret;
using Attend.Nn;

namespace Attend.Cli.Explain;

/// <summary>The character GPT: a prompt in, a greedy continuation out; causal self-attention of every layer over
/// prompt + continuation.</summary>
public sealed class LmExplainer((Gpt Model, CharTokenizer Tokenizer) lm) : IAttentionExplainer
{
    /// <summary>Characters generated after the prompt (fewer when the context fills up).</summary>
    public const int Continuation = 24;
    readonly Gpt model = lm.Model;
    readonly CharTokenizer tok = lm.Tokenizer;

    public string Description => $"character language model (GPT): {model.Config.NLayer} layers, {model.Config.NHead} heads, d {model.Config.NEmbd}, " +
                                 $"context {model.Config.BlockSize}, {tok.Size} characters; greedy continuation of the prompt";
    public string Example => "In the beginning God";
    public int MaxInput => model.Config.BlockSize - 1;

    public Explanation Explain(string input)
    {
        if (input.Length == 0) throw Explainers.Bad("the prompt is empty");
        if (input.Length > MaxInput) throw Explainers.Bad($"the prompt has {input.Length} characters; this model's context holds {model.Config.BlockSize}, so at most {MaxInput}");
        int bad = input.IndexOf(input.FirstOrDefault(c => !tok.Vocab.Contains(c)));
        if (bad >= 0) throw Explainers.Bad($"character '{input[bad]}' at position {bad + 1} is not in the model's vocabulary ({tok.Size} characters of its training text)");
        var ids = tok.Encode(input, out _);
        int n = Math.Min(Continuation, model.Config.BlockSize - ids.Length);
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var all = model.Generate(Tensor.FromArray(ids, [1, ids.Length]), n, temperature: 0f).ToInt64Array();
        string text = tok.Decode(all);
        using var capture = AttentionCapture.Start(model);
        model.Forward(Tensor.FromArray(all, [1, all.Length]));
        var tokens = text.Select(c => c.ToString()).ToArray();
        var views = capture.Records.Select(r => AttentionView.From(r, $"layer {r.Site.Split('.')[2]}", "self", "gpt", tokens, tokens)).ToList();
        return new Explanation("char-lm", input, text[input.Length..], views);
    }
}

/// <summary>Translation: a sentence in, the greedy translation out (words, 13a tokens); encoder, decoder self- and cross-attention.</summary>
public sealed class TranslateExplainer(TranslateModel model) : IAttentionExplainer
{
    public string Description => $"translation model: word-level encoder-decoder Transformer, d {model.Config.Preset.DModel}, {model.Config.Preset.Heads} heads, " +
                                 $"{model.Config.Preset.EncoderLayers}+{model.Config.Preset.DecoderLayers} layers, vocabularies {model.Config.Source.Size:N0}/{model.Config.Target.Size:N0}";
    public string Example => "And God said , Let there be light : and there was light .";
    public int MaxInput => 2000;

    public Explanation Explain(string input)
    {
        var words = Vocab.Split(input);
        if (words.Length == 0) throw Explainers.Bad("the input is empty: type a sentence");
        if (input.Length > MaxInput) throw Explainers.Bad($"the input has {input.Length} characters; at most {MaxInput}");
        if (words.Length > TranslateModel.MaxSource) throw Explainers.Bad($"the input has {words.Length} words; this model reads at most {TranslateModel.MaxSource}");
        var ids = model.Config.Source.Encode(input);
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        var (src, pad) = TranslateModel.SourceIds(new[] { ids });
        var memory = model.Encode(src, pad);                                        // (1, S, E)
        var cache = model.NewCache();
        var output = new List<long>();
        long last = Vocab.Bos;
        for (int t = 0; t < TranslateModel.MaxOutput(ids.Length); t++)            // greedy, as model.Greedy, keeping the ids
        {
            long next = model.DecodeStep(memory, pad, Tensor.FromArray(new[] { last }, [1, 1]), t, cache).Select(1, 0).Max(-1).Indices.ToInt64Array()[0];
            if (next == Vocab.Eos) break;
            output.Add(last = next);
        }
        using var capture = AttentionCapture.Start(model);
        var (decIn, _) = TranslateModel.TargetIds(new[] { output.ToArray() });
        model.Forward(src, pad, decIn);
        var written = output.Select(id => model.Config.Target.Decode(new[] { id })).Append("</s>").ToArray();
        string[] decoderInput = ["<s>", .. written[..^1]];
        var source = words.Select((w, i) => ids[i] == Vocab.Unk ? $"{w} (unk)" : w).ToArray();
        return new Explanation("translate", input, model.Config.Target.Decode(output), Explainers.EncoderDecoderViews(capture.Records, source, decoderInput, written));
    }
}
