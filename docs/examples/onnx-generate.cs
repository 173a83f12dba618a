#:package Microsoft.ML.OnnxRuntime@1.32.0
// Runs a language model trained with Attend in ONNX Runtime alone (no Attend), one token per call with the KV cache.
// Make the file with:  attend export --model kjv-small --out lm.onnx --kv-cache
// Run:  dotnet run -c Release docs/examples/onnx-generate.cs -- lm.onnx "In the beginning"
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

using var session = new InferenceSession(args[0]);
var config = JsonNode.Parse(session.ModelMetadata.CustomMetadataMap["attend_config"])!;      // the checkpoint's config, written by attend export
string vocab = config["vocab"]!.GetValue<string>();                                           // the characters, in id order
var inputs = session.InputMetadata.Where(i => i.Key.StartsWith("past_key_values.")).ToList();
var feeds = inputs.ToDictionary(i => i.Key, i => new DenseTensor<float>([1, i.Value.Dimensions[1], 0, i.Value.Dimensions[3]]));   // an empty cache
long[] ids = args[1].Select(c => (long)vocab.IndexOf(c)).ToArray();
string text = args[1];
for (int step = ids.Length; step < config["block_size"]!.GetValue<int>(); step++)               // up to the context
{
    using var r = session.Run([NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, ids.Length])),
        .. feeds.Select(f => NamedOnnxValue.CreateFromTensor(f.Key, f.Value))]);
    var logits = r.First(v => v.Name == "logits").AsTensor<float>();                        // (1, T, V)
    int next = Enumerable.Range(0, vocab.Length).MaxBy(v => logits[0, ids.Length - 1, v]);   // greedy
    foreach (var key in feeds.Keys) feeds[key] = r.First(v => v.Name == key.Replace("past_key_values", "present")).AsTensor<float>().ToDenseTensor();
    (ids, text) = ([next], text + vocab[next]);
}
Console.WriteLine(text);
