using Attend.Nn;
using Onnx;
using static Onnx.TensorProto.Types;

namespace Attend.Interop;

public static partial class BertOnnx
{
    /// <summary>
    /// The <see cref="Bert"/> encoder as an ONNX graph, named as Hugging Face's BertModel export:
    /// <code>
    /// input_ids, attention_mask, token_type_ids (batch, sequence_length) int64
    ///   → last_hidden_state (batch, sequence_length, E), pooler_output (batch, E) when the model has a pooler
    /// </code>
    /// Initializers carry the state-dict names, so <see cref="Read"/> (and <c>Bert.Load</c>) read the file back.
    /// </summary>
    internal static ModelProto Build(Bert m, int opset)
    {
        var c = m.Config;
        int E = c.HiddenSize, H = c.NumAttentionHeads, D = c.HeadDim;
        var g = new OnnxBuilder("attend_bert", opset, OnnxExport.Tensors(m));
        var ids = g.Input("input_ids", DataType.Int64, "batch", "sequence_length");
        var mask = g.Input("attention_mask", DataType.Int64, "batch", "sequence_length");
        var types = g.Input("token_type_ids", DataType.Int64, "batch", "sequence_length");
        var x = g.Op("Add", [g.Op("Gather", [g.Param("embeddings.word_embeddings.weight"), ids]),
                             g.Op("Gather", [g.Param("embeddings.token_type_embeddings.weight"), types])]);
        x = g.Op("Add", [x, g.TableRows(g.Param("embeddings.position_embeddings.weight"), g.Ints([0]), g.Dim(ids, 1))]);
        x = g.LayerNorm(x, "embeddings.LayerNorm", c.LayerNormEps);                                             // (B, T, E)
        var keyMask = g.KeyPaddingMask(mask);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"encoder.layer.{i}.", s = p + "attention.self.";
            var y = g.Attention(g.Linear(x, s + "query"), g.Linear(x, s + "key"), g.Linear(x, s + "value"), H, H, D, keyMask);
            var h = g.LayerNorm(g.Op("Add", [x, g.Linear(y, p + "attention.output.dense")]), p + "attention.output.LayerNorm", c.LayerNormEps);
            var f = g.Linear(g.Gelu(g.Linear(h, p + "intermediate.dense")), p + "output.dense");
            x = g.LayerNorm(g.Op("Add", [h, f]), p + "output.LayerNorm", c.LayerNormEps);
        }
        g.Output("last_hidden_state", x, DataType.Float, "batch", "sequence_length", E);
        if (c.Pooler)
        {
            var cls = g.Op("Gather", [x, g.ScalarInt(0)], ("axis", 1L));                                        // (B, E)
            g.Output("pooler_output", g.Op("Tanh", [g.Linear(cls, "pooler.dense")]), DataType.Float, "batch", E);
        }
        return g.Model($"Attend BERT: {c.NumHiddenLayers} layers, {H} heads, hidden {E}, intermediate {c.IntermediateSize}, " +
                       $"vocabulary {c.VocabSize}, {c.MaxPositionEmbeddings} positions");
    }
}
