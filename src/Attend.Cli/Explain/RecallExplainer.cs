using System.Globalization;
using Attend.Cli.Recall;
using Attend.Interpret;
using Attend.Nn;

namespace Attend.Cli.Explain;

/// <summary>
/// The long-range recall model (<c>attend train recall</c>) on one of its held-out sequences, thousands of tokens long:
/// the input names it — <c>length=8336 sequence=3 query=7</c>, each part optional — and the explanation holds, for
/// every query of that sequence, each layer's and head's attention row over all keys, recomputed row by row from the
/// kernel's log-sum-exp (<see cref="LongContextView"/>); the retrieval (induction) head is found from them.
/// </summary>
public sealed class RecallExplainer((Gpt Model, RecallConfig Config) recall) : IAttentionExplainer
{
    readonly Gpt model = recall.Model;
    readonly RecallConfig config = recall.Config;

    int Default => config.LengthFor(config.Context);
    int Pairs => config.Spec(1 << 20, 1).Pairs;
    int Queries => config.Spec(1 << 20, 1).Queries;

    public string Description => $"long-range recall model (GPT, {config.Gpt.NLayer} layers, {config.Gpt.NHead} heads, d {config.Gpt.NEmbd}, " +
                                 $"{config.Gpt.Positions.ToString().ToLowerInvariant()} positions{(config.Gpt.TokenShift ? ", token shift" : "")}) " +
                                 $"on held-out {config.Task} sequences of up to {config.Gpt.BlockSize:N0} tokens; type length=N sequence=S query=Q";
    public string Example => $"length={Default} sequence=0 query={Queries - 1}";
    public int MaxInput => 200;

    public Explanation Explain(string input)
    {
        if (input.Length > MaxInput) throw Explainers.Bad($"the input has {input.Length} characters; at most {MaxInput}");
        var (length, sequence, query) = Parse(input);
        var spec = config.Spec(length, length - 2 * Queries - 8 * Pairs);
        var seq = RecallTask.Make(spec, config.Seed, sequence, RecallTask.TestStream);
        var tokens = seq.Tokens.Select(t => spec.Label(t)).ToArray();
        using var noGrad = Autograd.NoGrad();
        using var scope = Tensor.NewScope();
        Tensor logits;
        LongContextView view;
        using (var capture = AttentionCapture.Start(model, rows: seq.QueryPositions))
        {
            logits = model.Forward(Tensor.FromArray(seq.Tokens, [1, length])).Logits;       // (1, L, V)
            view = LongContextView.From(capture.Records, tokens, site => $"layer {site.Split('.')[2]}") with { Shown = seq.QueryPositions[query] };
        }
        int at = seq.QueryPositions[query];
        var row = logits.Select(1, at).Reshape(-1).ToArray();                                  // (V)
        int best = Array.IndexOf(row, row.Max());
        long answer = seq.Targets[at];
        string output = $"{tokens[at]} → {spec.Label(best)} ({(best == answer ? "right" : $"wrong: the answer is {spec.Label(answer)}")}; " +
                        $"its key sits {seq.Distances[query]:N0} tokens back)";
        return new Explanation("recall", $"length={length} sequence={sequence} query={query}", output, []) { Long = view };
    }

    (int Length, int Sequence, int Query) Parse(string input)
    {
        int length = Default, sequence = 0, query = Queries - 1;
        foreach (var part in input.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw Explainers.Bad($"'{part}' is not name=number; type e.g. {Example}");
            switch (kv[0])
            {
                case "length": length = v; break;
                case "sequence": sequence = v; break;
                case "query": query = v; break;
                default: throw Explainers.Bad($"'{kv[0]}' is not length, sequence or query; type e.g. {Example}");
            }
        }
        int shortest = 2 * Queries + 8 * Pairs + 16;
        if (length < shortest || length > config.Gpt.BlockSize)
            throw Explainers.Bad($"length={length}: this model reads sequences of {shortest} to {config.Gpt.BlockSize:N0} tokens");
        if (query >= Queries) throw Explainers.Bad($"query={query}: a sequence has {Queries} queries, 0 to {Queries - 1}");
        return (length, sequence, query);
    }
}
