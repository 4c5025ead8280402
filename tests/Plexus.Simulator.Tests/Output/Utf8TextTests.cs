using System.Globalization;
using System.Text;

namespace Plexus.Simulator.Tests.Output;

public sealed class Utf8TextTests
{
    [Theory]
    [InlineData(0L, 0, "0")]
    [InlineData(7L, 0, "7")]
    [InlineData(-7L, 0, "-7")]
    [InlineData(5000L, 0, "5000")]
    [InlineData(5231854L, 5, "52.31854")]
    [InlineData(6133680L, 5, "61.3368")]
    [InlineData(1L, 5, "0.00001")]
    [InlineData(-1L, 5, "-0.00001")]
    [InlineData(-9000000L, 5, "-90")]
    [InlineData(-12345L, 5, "-0.12345")]
    [InlineData(100010L, 5, "1.0001")]
    [InlineData(9L, 1, "0.9")]
    [InlineData(10L, 1, "1")]
    [InlineData(212L, 1, "21.2")]
    [InlineData(0L, 5, "0")]
    [InlineData(long.MaxValue, 0, "9223372036854775807")]
    public void Scaled_values_print_like_Go_AppendFloat_f_minus_1(long scaled, int decimals, string expected)
    {
        Span<byte> buffer = stackalloc byte[64];
        int length = Utf8Text.WriteScaled(buffer, scaled, decimals);
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer[..length]));
    }

    [Fact]
    public void Scaled_values_are_the_shortest_text_that_reads_back_as_the_same_double()
    {
        // The claim behind printing the integer: for 5-decimal values up to ±180 the decimal text is the shortest
        // round-trip representation of float64(int)/1e5, i.e. what Go prints for the double TSBS computes.
        var random = Xoshiro256StarStar.Create(11, 0);
        Span<byte> buffer = stackalloc byte[64];
        for (int i = 0; i < 200_000; i++)
        {
            long scaled = (long)((random.NextDouble() * 36_000_000) - 18_000_000);
            int length = Utf8Text.WriteScaled(buffer, scaled, 5);
            string text = Encoding.ASCII.GetString(buffer[..length]);
            double value = scaled / 100000.0;
            Assert.Equal(value, double.Parse(text, CultureInfo.InvariantCulture));
            if (Math.Abs(value) >= 1e-4)
            {
                Assert.Equal(value.ToString("R", CultureInfo.InvariantCulture), text); // .NET's shortest round-trip agrees
            }
        }
    }

    [Theory]
    [InlineData(1451606400000000000L, "2016-01-01T00:00:00Z")]
    [InlineData(1451685610000000000L, "2016-01-01T22:00:10Z")]
    [InlineData(1451685610500000000L, "2016-01-01T22:00:10.5Z")]
    [InlineData(1451685610000000001L, "2016-01-01T22:00:10.000000001Z")]
    [InlineData(0L, "1970-01-01T00:00:00Z")]
    public void Timestamps_print_as_RFC_3339_UTC_with_a_fraction_only_when_there_is_one(long unixNanoseconds, string expected)
    {
        Span<byte> buffer = stackalloc byte[64];
        int length = Utf8Text.WriteRfc3339(buffer, unixNanoseconds);
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer[..length]));
    }
}
