using System.Text.Json;
using System.Text.Json.Nodes;
using Attend.Data;
using Attend.IO;
using Attend.Nn;

namespace Attend.Interop;

/// <summary>
/// Loading pretrained BERT encoders into <see cref="Bert"/>, as static members of Bert itself (with
/// <c>using Attend.Interop;</c>): <c>Bert.Load(path)</c> reads
/// <code>
/// model.onnx                  a PyTorch ONNX export (see <see cref="BertOnnx"/>), vocab.txt beside it
/// DIR/                        a Hugging Face folder: config.json, model.safetensors, vocab.txt (tokenizer_config.json's
///                             do_lower_case and sentence-transformers' 1_Pooling/config.json when present); names with or
///                             without the "bert." prefix of BertFor* heads
/// </code>
/// and <c>bert.SaveHuggingFace(dir)</c> writes such a folder back.
/// </summary>
public static class BertLoading
{
    extension(Bert)
    {
        /// <summary>An ONNX file (its vocab.txt beside it) or a Hugging Face folder.</summary>
        /// <exception cref="InvalidDataException">not a BERT model, or a tensor missing or misshapen (named).</exception>
        /// <exception cref="FileNotFoundException">no such file or folder, or a folder without config.json, model.safetensors or vocab.txt.</exception>
        public static Bert Load(string path)
        {
            if (Directory.Exists(path))
                return File.Exists(Path.Combine(path, "config.json")) ? Bert.FromHuggingFace(path)
                    : File.Exists(Path.Combine(path, "model.onnx")) ? Bert.Load(Path.Combine(path, "model.onnx"))
                    : throw new FileNotFoundException($"{path} holds neither a Hugging Face model (config.json) nor model.onnx");
            if (!File.Exists(path)) throw new FileNotFoundException($"no model at {path} (an ONNX file or a Hugging Face folder)", path);
            string vocab = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "vocab.txt");
            using var onnx = File.OpenRead(path);
            return Bert.FromOnnx(onnx, File.Exists(vocab) ? WordPieceTokenizer.FromFile(vocab) : null, path);
        }

        /// <summary>A BERT encoder from an ONNX model's bytes; <paramref name="tokenizer"/> (its vocab.txt) is needed
        /// by <see cref="Bert.Encode"/> and must fit the word embeddings.</summary>
        public static Bert FromOnnx(Stream onnx, WordPieceTokenizer? tokenizer, string source = "<onnx>")
        {
            var (config, state) = BertOnnx.Read(OnnxGraph.Load(onnx, source));
            try { return Build(config, state, tokenizer, source); }
            finally { foreach (var t in state.Values) t.Dispose(); }
        }

        /// <summary>A Hugging Face folder: config.json, model.safetensors, vocab.txt.</summary>
        public static Bert FromHuggingFace(string dir)
        {
            string Need(string file) => File.Exists(Path.Combine(dir, file)) ? Path.Combine(dir, file)
                : throw new FileNotFoundException($"{dir} has no {file} (a Hugging Face BERT folder has config.json, model.safetensors and vocab.txt)");
            var config = ReadConfig(Need("config.json"));
            var raw = SafeTensors.Load(Need("model.safetensors"));
            var state = raw.Where(kv => kv.Key.StartsWith("bert.") || !kv.Key.StartsWith("cls."))
                .Select(kv => (Key: kv.Key.StartsWith("bert.") ? kv.Key[5..] : kv.Key, kv.Value))
                .Where(kv => kv.Key != "embeddings.position_ids")
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            config = config with { Pooler = state.ContainsKey("pooler.dense.weight") };
            var tok = WordPieceTokenizer.FromFile(Need("vocab.txt"), LowerCase(dir));
            try { var bert = Build(config, state, tok, dir); bert.Pooling = Pooling(dir); return bert; }
            finally { foreach (var t in raw.Values) t.Dispose(); }
        }
    }

    extension(Bert bert)
    {
        /// <summary>Writes a Hugging Face folder that <c>Bert.FromHuggingFace</c> and transformers' BertModel read:
        /// config.json, model.safetensors (every file written to a temporary name and renamed) and vocab.txt.</summary>
        public void SaveHuggingFace(string dir)
        {
            var tok = bert.Tokenizer ?? throw new InvalidOperationException("BERT: no tokenizer to write as vocab.txt");
            Directory.CreateDirectory(dir);
            var c = bert.Config;
            var json = new JsonObject
            {
                ["architectures"] = new JsonArray("BertModel"), ["model_type"] = "bert", ["vocab_size"] = c.VocabSize,
                ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumHiddenLayers, ["num_attention_heads"] = c.NumAttentionHeads,
                ["intermediate_size"] = c.IntermediateSize, ["hidden_act"] = "gelu", ["max_position_embeddings"] = c.MaxPositionEmbeddings,
                ["type_vocab_size"] = c.TypeVocabSize, ["layer_norm_eps"] = c.LayerNormEps, ["pad_token_id"] = tok.Specials.Pad ?? 0,
                ["hidden_dropout_prob"] = 0.1, ["attention_probs_dropout_prob"] = 0.1, ["initializer_range"] = 0.02,
            };
            AtomicFile.WriteText(Path.Combine(dir, "config.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            AtomicFile.WriteText(Path.Combine(dir, "tokenizer_config.json"), new JsonObject { ["do_lower_case"] = tok.LowerCase, ["tokenizer_class"] = "BertTokenizer" }.ToJsonString());
            AtomicFile.WriteText(Path.Combine(dir, "vocab.txt"), string.Join("\n", tok.Tokens) + "\n");
            Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
            AtomicFile.WriteText(Path.Combine(dir, "1_Pooling", "config.json"), new JsonObject
            {
                ["word_embedding_dimension"] = c.HiddenSize, ["pooling_mode_cls_token"] = bert.Pooling == SentencePooling.Cls,
                ["pooling_mode_mean_tokens"] = bert.Pooling == SentencePooling.Mean,
            }.ToJsonString());
            SafeTensors.Save(Path.Combine(dir, "model.safetensors"), bert.StateDict(), new Dictionary<string, string> { ["format"] = "pt" });
        }
    }

    private static Bert Build(BertConfig config, IReadOnlyDictionary<string, Tensor> state, WordPieceTokenizer? tok, string source)
    {
        if (tok is not null && tok.VocabSize != config.VocabSize)
            throw new InvalidDataException($"{source}: the vocabulary has {tok.VocabSize} tokens but embeddings.word_embeddings.weight has {config.VocabSize} rows; is vocab.txt this model's?");
        Bert bert;
        try { bert = new Bert(config, tok); }
        catch (ArgumentException ex) { throw new InvalidDataException($"{source}: the model's configuration is not valid: {ex.Message}", ex); }
        try { bert.LoadStateDict(state); }
        catch (ArgumentException ex) { throw new InvalidDataException($"{source}: {ex.Message}", ex); }
        return bert;
    }

    /// <summary>A Hugging Face BERT config.json.</summary>
    private static BertConfig ReadConfig(string path)
    {
        JsonNode? j;
        try { j = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException ex) { throw new InvalidDataException($"{path}: not JSON ({ex.Message})", ex); }
        if (j is not JsonObject o) throw new InvalidDataException($"{path}: not a JSON object");
        if (o["model_type"]?.GetValue<string>() is { } type && type != "bert")
            throw new InvalidDataException($"{path}: model_type is '{type}'; only BERT encoders (model_type 'bert') are read");
        if (o["hidden_act"]?.GetValue<string>() is { } act && act != "gelu")
            throw new InvalidDataException($"{path}: hidden_act is '{act}'; this BERT computes exact-erf 'gelu'");
        int Int(string key, int? fallback = null) => o[key]?.GetValue<int>() ?? fallback ?? throw new InvalidDataException($"{path}: no '{key}'");
        try
        {
            var c = new BertConfig(Int("vocab_size"), Int("hidden_size"), Int("num_hidden_layers"), Int("num_attention_heads"), Int("intermediate_size"),
                Int("max_position_embeddings", 512), Int("type_vocab_size", 2), o["layer_norm_eps"]?.GetValue<float>() ?? 1e-12f);
            c.Validate();
            return c;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>sentence-transformers' 1_Pooling/config.json: [CLS] when pooling_mode_cls_token, else mean (also when absent).</summary>
    private static SentencePooling Pooling(string dir)
    {
        string path = Path.Combine(dir, "1_Pooling", "config.json");
        if (!File.Exists(path)) return SentencePooling.Mean;
        try { return JsonNode.Parse(File.ReadAllText(path))?["pooling_mode_cls_token"]?.GetValue<bool>() == true ? SentencePooling.Cls : SentencePooling.Mean; }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
    }

    /// <summary>tokenizer_config.json's do_lower_case; true (BERT-uncased, as Hugging Face's default) when absent.</summary>
    private static bool LowerCase(string dir)
    {
        string path = Path.Combine(dir, "tokenizer_config.json");
        if (!File.Exists(path)) return true;
        try { return JsonNode.Parse(File.ReadAllText(path))?["do_lower_case"]?.GetValue<bool>() ?? true; }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
    }
}
