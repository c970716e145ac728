using System.Buffers.Binary;
using System.Buffers.Text;

namespace Boxes.Billing.Usage;

/// <summary>
/// A position in the usage feed: the writing transaction's id, then the record's sequence number. Handed out as an
/// opaque cursor (base64url of the two numbers, big-endian).
/// </summary>
public readonly record struct FeedPosition(ulong TransactionId, long Seq)
{
    public static readonly FeedPosition Start = new(0, 0);

    public string Encode()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, TransactionId);
        BinaryPrimitives.WriteInt64BigEndian(bytes[8..], Seq);
        return Base64Url.EncodeToString(bytes);
    }

    public static bool TryDecode(string text, out FeedPosition position)
    {
        position = Start;
        Span<byte> bytes = stackalloc byte[24];
        if (text.Length != 22 || !Base64Url.TryDecodeFromChars(text, bytes, out var written) || written != 16) return false;
        var seq = BinaryPrimitives.ReadInt64BigEndian(bytes[8..16]);
        if (seq < 0) return false;
        position = new FeedPosition(BinaryPrimitives.ReadUInt64BigEndian(bytes), seq);
        // Only the one spelling this type writes: a cursor that decodes but is spelt otherwise is not one of ours.
        return position.Encode() == text;
    }
}
