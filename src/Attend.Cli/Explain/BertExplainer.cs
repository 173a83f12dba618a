using Attend.Cli.Embeddings;
using Attend.Interpret;
using Attend.Nn;

namespace Attend.Cli.Explain;

/// <summary>
/// A pretrained BERT sentence encoder (attend explain/serve --model minilm|arctic|PATH): a sentence, or a pair
/// "A [SEP] B", in; out the bidirectional self-attention of every layer and head over its WordPiece tokens
/// (<c>[CLS] the cat … [SEP]</c>; the pair's second segment, token type 1, labelled "B:dog"), the rollout of the
/// encoder stack, and a line on the sentence embedding: for a pair, the cosine similarity of A's and B's embeddings
/// (each encoded alone, as a search would).
/// </summary>
public sealed class BertExplainer(SentenceEncoder encoder) : IAttentionExplainer
{
    /// <summary>The most word pieces explained (with [CLS] and [SEP]): every head's map is T×T, and 72 heads of 128² already make a page of over 10 MB.</summary>
    public const int MaxTokens = 128;
    /// <summary>What separates the two texts of a pair in one input string.</summary>
    public const string Separator = "[SEP]";
    /// <summary>The prefix of the labels of the pair's second segment (token type 1).</summary>
    public const string SegmentB = "B:";

    public SentenceEncoder Encoder => encoder;

    public string Description => $"sentence encoder {encoder.Description}; a sentence, or a pair typed as \"A [SEP] B\"";
    public string Example => "The cat sat on the mat because it was tired.";
    public int MaxInput => 2000;

    /// <summary>A sentence, or a pair "A [SEP] B".</summary>
    public Explanation Explain(string input)
    {
        var parts = input.Split(Separator);
        if (parts.Length > 2) throw Explainers.Bad($"the input has {parts.Length - 1} {Separator}s; a pair is typed as \"A {Separator} B\", with one");
        return Explain(parts[0], parts.Length == 2 ? parts[1] : null);
    }

    /// <summary>Sentence <paramref name="a"/>, or the pair (<paramref name="a"/>, <paramref name="b"/>) as BERT reads one: [CLS] a [SEP] b [SEP].</summary>
    public Explanation Explain(string a, string? b)
    {
        a = a.Trim();
        b = b?.Trim();
        if (a.Length == 0) throw Explainers.Bad(b is null ? "the input is empty: type a sentence" : $"the text before {Separator} is empty");
        if (b is { Length: 0 }) throw Explainers.Bad($"the text after {Separator} is empty");
        if (a.Length + (b?.Length ?? 0) > MaxInput) throw Explainers.Bad($"the input has {a.Length + (b?.Length ?? 0)} characters; at most {MaxInput}");
        var tok = encoder.Tokenizer;
        var x = tok.Encode(a, b, int.MaxValue);
        if (x.Length > MaxTokens) throw Explainers.Bad($"the input is {x.Length} word pieces with [CLS] and [SEP]; explain shows at most {MaxTokens} (the model reads {encoder.MaxTokens})");
        var labels = x.Ids.Select((id, i) => (x.TypeIds[i] == 1 ? SegmentB : "") + tok.Tokens[(int)id]).ToArray();
        var model = encoder.Model;
        IReadOnlyList<CapturedAttention> records;
        using (Autograd.NoGrad())
        using (Tensor.NewScope())
        using (var capture = AttentionCapture.Start(model))
        {
            model.Forward(Tensor.FromArray(x.Ids, [1, x.Length]), null, Tensor.FromArray(x.TypeIds, [1, x.Length]));
            records = capture.Records;
        }
        var views = records.Select(r => AttentionView.From(r, $"layer {Layer(r.Site)}", "self", "encoder", labels, labels)).ToList();
        string input = b is null ? a : $"{a} {Separator} {b}";
        return new Explanation($"bert ({encoder.Name})", input, Output(a, b, x.Length), views);
    }

    /// <summary>"encoder.layer.3.attention.self" → "3".</summary>
    static string Layer(string site)
    {
        var parts = site.Split('.');
        return parts.Length > 2 && parts[0] == "encoder" && parts[1] == "layer" ? parts[2] : site;
    }

    string Output(string a, string? b, int tokens)
    {
        string pooling = encoder.Pooling == SentencePooling.Cls ? "[CLS] state" : "mean of the tokens' last hidden states";
        if (b is not null)
        {
            var e = encoder.Embed([a, b], queries: false, TextWriter.Null, i => "");
            double cos = e[0].Zip(e[1], (p, q) => (double)p * q).Sum();
            return $"cosine(A, B) = {cos:F4}: the {e[0].Length}-dim sentence embeddings of A and of B, each encoded alone ({pooling}, L2-normalized); {tokens} word pieces together";
        }
        var v = encoder.Embed([a], queries: false, TextWriter.Null, i => "")[0];
        return $"sentence embedding: {v.Length} dims ({pooling} over {tokens} word pieces, L2-normalized), first {string.Join(" ", v.Take(4).Select(f => f.ToString("+0.000;-0.000")))} …";
    }
}
