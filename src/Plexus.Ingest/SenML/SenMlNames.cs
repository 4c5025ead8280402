using System.Buffers;
using System.Text;

namespace Plexus.Ingest.SenML;

/// <summary>The character rules of RFC 8428 and how a resolved name becomes a field name.</summary>
internal static class SenMlNames
{
    // RFC 8428 §4.5.1: A-Z a-z 0-9 - : . / _, starting with a letter or digit.
    private static readonly SearchValues<byte> NameCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-:./_"u8);

    /// <summary>Offset of the first character the RFC does not allow in a name, or -1.</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> name) => name.IndexOfAnyExcept(NameCharacters);

    public static bool StartsWell(ReadOnlySpan<byte> name) => name.Length > 0 && char.IsAsciiLetterOrDigit((char)name[0]);

    /// <summary>
    /// How many leading bytes of a resolved name identify the device and are left out of the field name:
    /// an RFC 9039 device URN <c>urn:dev:&lt;type&gt;:&lt;id&gt;</c>, or the device id from the topic, followed
    /// by the end of the name or by one ':' or '/' (which is dropped too). 0 when the name has no such prefix.
    /// </summary>
    public static int DevicePrefixLength(ReadOnlySpan<byte> name, string? deviceId)
    {
        // URN namespace identifiers are case-insensitive (RFC 8141).
        if (name.Length > 8 && Ascii.EqualsIgnoreCase(name[..8], "urn:dev:"u8))
        {
            int typeLength = name[8..].IndexOf((byte)':');
            if (typeLength > 0)
            {
                int idStart = 8 + typeLength + 1;
                int idLength = name[idStart..].IndexOf((byte)':');
                if (idLength < 0)
                {
                    idLength = name.Length - idStart;
                }

                if (idLength > 0)
                {
                    int end = idStart + idLength;
                    return end == name.Length ? end : end + 1;
                }
            }
        }

        if (deviceId is not null && deviceId.Length <= name.Length && StartsWithAscii(name, deviceId))
        {
            int end = deviceId.Length;
            if (end == name.Length)
            {
                return end;
            }

            if (name[end] is (byte)':' or (byte)'/')
            {
                return end + 1;
            }
        }

        return 0;
    }

    /// <summary>Names are ASCII, so a device id with any other character never matches.</summary>
    private static bool StartsWithAscii(ReadOnlySpan<byte> name, string prefix)
    {
        for (int i = 0; i < prefix.Length; i++)
        {
            if (prefix[i] != name[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// RFC 8428 §4.3 asks for base64url without padding; standard base64 and padding are accepted as well (the
    /// text is stored as sent), but not a mix of the two alphabets, a length no encoding produces, or any other
    /// character.
    /// </summary>
    public static bool IsBase64(ReadOnlySpan<byte> text)
    {
        int length = text.Length;
        int padding = 0;
        while (length > 0 && padding < 2 && text[length - 1] == (byte)'=')
        {
            length--;
            padding++;
        }

        if ((padding > 0 && text.Length % 4 != 0) || length % 4 == 1)
        {
            return false;
        }

        bool urlSafe = false;
        bool standard = false;
        foreach (byte b in text[..length])
        {
            if (char.IsAsciiLetterOrDigit((char)b))
            {
                continue;
            }

            if (b is (byte)'-' or (byte)'_')
            {
                urlSafe = true;
            }
            else if (b is (byte)'+' or (byte)'/')
            {
                standard = true;
            }
            else
            {
                return false;
            }
        }

        return !(urlSafe && standard);
    }
}
