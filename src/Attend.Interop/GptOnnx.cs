using Attend.Nn;
using Onnx;
using static Onnx.TensorProto.Types;

namespace Attend.Interop;

/// <summary>
/// The <see cref="Gpt"/> as an ONNX graph, named as Hugging Face's GPT-2 export:
/// <code>
/// input_ids (batch, sequence_length) int64                                        → logits (batch, sequence_length, V)
/// with the KV cache, also:
/// past_key_values.N.key|value (batch, Hkv, past_sequence_length, hs)               → present.N.key|value (batch, Hkv, total_sequence_length, hs)
/// </code>
/// Positions continue from the cache's length (learned rows, RoPE angles, ALiBi distances and the causal diagonal
/// all start at past_sequence_length), so feeding the presents back as the next call's pasts generates token by token;
/// the first call passes pasts of length 0. Initializers carry the state-dict names (lm_head tied to transformer.wte).
/// </summary>
internal static class GptOnnx
{
    public static ModelProto Build(Gpt model, int opset, bool kvCache)
    {
        var c = model.Config;
        int H = c.NHead, Hkv = c.KvHeads, D = c.HeadSize, C = c.NEmbd;
        var g = new OnnxBuilder("attend_gpt", opset, model.StateDict());
        var ids = g.Input("input_ids", DataType.Int64, "batch", "sequence_length");
        var pasts = Enumerable.Range(0, c.NLayer).Select(i => kvCache
            ? ((string Key, string Value)?)(g.Input($"past_key_values.{i}.key", DataType.Float, "batch", Hkv, "past_sequence_length", D),
                                            g.Input($"past_key_values.{i}.value", DataType.Float, "batch", Hkv, "past_sequence_length", D))
            : null).ToArray();
        string T = g.Dim(ids, 1);
        string past = kvCache ? g.Dim(pasts[0]!.Value.Key, 2) : g.Ints([0]);
        string total = g.Op("Add", [past, T]);

        var x = g.Op("Gather", [g.Param("transformer.wte.weight"), ids]);                       // (B, T, C)
        if (c.Positions == PositionKind.Learned) x = g.Op("Add", [x, g.TableRows(g.Param("transformer.wpe.weight"), past, total)]);
        var rope = c.Positions == PositionKind.Rope ? Rope(g, c, ids, past, total) : null;
        var alibi = c.Positions == PositionKind.Alibi ? Alibi.Slopes(H) : null;
        // opset 23 without a cache or ALiBi: the Attention op's own causal mask; otherwise one mask for every layer.
        bool opCausal = opset >= 23 && !kvCache && alibi is null;
        var mask = opCausal ? null : g.CausalMask(past, total, alibi);

        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"transformer.h.{i}.";
            var h = Norm(g, c, x, p + "ln_1");
            var qkv = g.Split(g.Linear(h, p + "attn.c_attn"), H * D, Hkv * D, Hkv * D);          // (B, T, H·hs), (B, T, Hkv·hs) ×2
            var present = kvCache ? ((string, string)?)($"present.{i}.key", $"present.{i}.value") : null;
            var y = g.Attention(qkv[0], qkv[1], qkv[2], H, Hkv, D, mask, opCausal, rope, pasts[i], present);   // (B, T, C)
            x = g.Op("Add", [x, g.Linear(y, p + "attn.c_proj")]);
            h = g.Linear(Norm(g, c, x, p + "ln_2"), p + "mlp.c_fc");
            if (c.Mlp == MlpKind.SwiGlu)
            {
                var ab = g.Split(h, c.Hidden, c.Hidden);
                h = g.Op("Mul", [g.Silu(ab[0]), ab[1]]);
            }
            else h = g.Gelu(h);
            x = g.Op("Add", [x, g.Linear(h, p + "mlp.c_proj")]);
        }
        x = Norm(g, c, x, "transformer.ln_f");
        g.Output("logits", g.Linear(x, "lm_head"), DataType.Float, "batch", "sequence_length", c.VocabSize);
        if (kvCache)
            for (int i = 0; i < c.NLayer; i++)
            {
                g.Output($"present.{i}.key", $"present.{i}.key", DataType.Float, "batch", Hkv, "total_sequence_length", D);
                g.Output($"present.{i}.value", $"present.{i}.value", DataType.Float, "batch", Hkv, "total_sequence_length", D);
            }
        return g.Model($"Attend GPT: {c.NLayer} layers, {H} heads ({Hkv} key/value), width {C}, {c.Positions} positions, " +
                       $"{c.Norm}, {c.Mlp}, context {c.BlockSize}, vocabulary {c.VocabSize}" + (kvCache ? "; with KV cache" : ""));
    }

    private static string Norm(OnnxBuilder g, GptConfig c, string x, string prefix) =>
        c.Norm == NormKind.LayerNorm ? g.LayerNorm(x, prefix, 1e-5f) : g.RmsNorm(x, prefix, 1e-5f);   // Gpt.Norm's eps

    /// <summary>The rotary tables for BlockSize positions (as <see cref="RotaryEmbedding"/> computes them), and this
    /// call's positions past … past + T − 1.</summary>
    private static RopeTables Rope(OnnxBuilder g, GptConfig c, string ids, string past, string total)
    {
        var (cosT, sinT) = new RotaryEmbedding(c.HeadSize, c.RopeBase, c.RopeInterleaved, maxPositions: 1).Tables(c.BlockSize);
        string cos = g.Weight("rope.cos", cosT), sin = g.Weight("rope.sin", sinT);                // (BlockSize, hs/2), copied into the graph
        cosT.Dispose(); sinT.Dispose();
        if (g.Opset >= 23)
        {
            var positions = g.Op("Unsqueeze", [g.Op("Range", [g.ToScalar(past), g.ToScalar(total), g.ScalarInt(1)]), g.Ints([0])]);   // (1, T)
            return new RopeTables(cos, sin, c.RopeInterleaved, g.Op("Expand", [positions, g.Op("Shape", [ids])]));                     // (B, T)
        }
        return new RopeTables(g.TableRows(cos, past, total), g.TableRows(sin, past, total), c.RopeInterleaved, null);              // (T, hs/2)
    }
}
