using Attend.Cli.Lm;
using Attend.Data;
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
                                 $"context {model.Config.BlockSize}, {tok.VocabSize} characters; greedy continuation of the prompt";
    public string Example => "In the beginning God";
    public int MaxInput => model.Config.BlockSize - 1;

    public Explanation Explain(string input)
    {
        if (input.Length == 0) throw Explainers.Bad("the prompt is empty");
        if (input.Length > MaxInput) throw Explainers.Bad($"the prompt has {input.Length} characters; this model's context holds {model.Config.BlockSize}, so at most {MaxInput}");
        int bad = input.IndexOf(input.FirstOrDefault(c => tok.Id(c) is null));
        if (bad >= 0) throw Explainers.Bad($"character '{input[bad]}' at position {bad + 1} is not in the model's vocabulary ({tok.VocabSize} characters of its training text)");
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
public sealed class TranslateExplainer(Seq2Seq model, TranslateConfig config) : IAttentionExplainer
{
    public string Description => $"translation model: word-level encoder-decoder Transformer, d {config.Preset.DModel}, {config.Preset.Heads} heads, " +
                                 $"{config.Preset.EncoderLayers}+{config.Preset.DecoderLayers} layers, vocabularies {config.Source.VocabSize:N0}/{config.Target.VocabSize:N0}";
    public string Example => "And God said , Let there be light : and there was light .";
    public int MaxInput => 2000;

    public Explanation Explain(string input)
    {
        var words = WordTokenizer.Tokenize13a(input);
        if (words.Length == 0) throw Explainers.Bad("the input is empty: type a sentence");
        if (input.Length > MaxInput) throw Explainers.Bad($"the input has {input.Length} characters; at most {MaxInput}");
        if (words.Length > TranslateConfig.MaxSource) throw Explainers.Bad($"the input has {words.Length} words; this model reads at most {TranslateConfig.MaxSource}");
        var ids = config.Source.Encode(input);
        var output = TranslateTask.GreedyIds(model, [ids])[0];
        var (src, pad) = TranslateTask.SourceIds([ids]);
        var (decIn, _) = TranslateTask.TargetIds([output]);
        var records = Seq2SeqAttention.Capture(model, src, pad, decIn);
        var written = output.Select(id => config.Target.Decode([id])).Append("</s>").ToArray();
        string[] decoderInput = ["<s>", .. written[..^1]];
        var source = words.Select((w, i) => ids[i] == WordTokenizer.Unk ? $"{w} (unk)" : w).ToArray();
        return new Explanation("translate", input, config.Target.Decode(output), Seq2SeqAttention.Views(records, source, decoderInput, written));
    }
}
