namespace Attend.Data;

/// <summary>A BERT input: token ids with [CLS] first and [SEP] after each segment, the segment of each token
/// (token_type_ids: 0 for the first text, 1 for the pair), and how many word pieces truncation dropped.</summary>
/// <param name="Ids">input_ids: [CLS] a [SEP] (b [SEP]).</param>
/// <param name="TypeIds">token_type_ids, one per id: 0 for [CLS], the first text and its [SEP]; 1 for the pair.</param>
/// <param name="Dropped">How many word pieces truncation cut off.</param>
public sealed record BertInput(long[] Ids, long[] TypeIds, int Dropped)
{
    /// <summary>The number of tokens, specials included.</summary>
    public int Length => Ids.Length;
}

/// <summary>
/// What a BERT encoder needs of its tokenizer: word pieces with [CLS]/[SEP] added as Hugging Face's BertTokenizer
/// adds them. The WordPiece implementation (<c>Attend.Data.WordPieceTokenizer</c>, read from a model's
/// <c>vocab.txt</c>) lives in the Attend.Interop package with the model loaders, so that this library keeps no
/// dependency beyond System.Numerics.Tensors.
/// </summary>
public interface IBertTokenizer : ITokenizer
{
    /// <summary>True when text is lower-cased and its accents stripped before tokenization (uncased models).</summary>
    bool LowerCase { get; }
    /// <summary>The id of [CLS].</summary>
    int ClsId { get; }
    /// <summary>The id of [SEP].</summary>
    int SepId { get; }
    /// <summary>The word pieces of <paramref name="text"/> as strings (<c>"play", "##ing"</c>), no specials.</summary>
    string[] Pieces(string text);
    /// <summary><c>[CLS] text [SEP]</c> (or <c>[CLS] text [SEP] pair [SEP]</c>) of at most <paramref name="maxLength"/>
    /// tokens, cut as Hugging Face's "longest_first" truncation cuts.</summary>
    BertInput Encode(string text, string? pair = null, int maxLength = 512);
}
