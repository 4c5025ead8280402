using System.Text;

namespace Plexus.Core.Tests;

public sealed class PointBatchTests
{
    private static readonly (string, string)[] NoTags = [];

    [Fact]
    public void Built_point_reads_back_its_measurement_tags_typed_fields_and_time()
    {
        var batch = new PointBatch(16);
        batch.BeginPoint("cpu"u8, lineNumber: 7);
        batch.AddTag(batch.AppendText("host"u8), batch.AppendText("a"u8));
        batch.AddFloat(batch.AppendText("f"u8), -1.5);
        batch.AddInteger(batch.AppendText("i"u8), long.MinValue);
        batch.AddUInteger(batch.AppendText("u"u8), ulong.MaxValue);
        batch.AddBoolean(batch.AppendText("b"u8), true);
        batch.AddString(batch.AppendText("s"u8), batch.AppendText("café"u8));
        Assert.Equal(5, batch.PendingFieldCount);
        Assert.Equal(1, batch.PendingTagCount);
        batch.EndPoint(123);

        Assert.Equal(1, batch.Count);
        Assert.Equal(5, batch.FieldValueCount);
        Assert.Equal("cpuhostafiubscafé"u8.Length, batch.TextBytes);
        ref readonly PointEntry point = ref batch[0];
        Assert.Equal("cpu"u8, batch.Text(point.Measurement));
        Assert.Equal(7, point.LineNumber);
        Assert.Equal(123, point.Timestamp);
        Assert.Equal("host"u8, batch.Text(batch.Tags(point)[0].Key));
        ReadOnlySpan<FieldEntry> fields = batch.Fields(point);
        Assert.Equal(-1.5, fields[0].FloatValue);
        Assert.Equal(long.MinValue, fields[1].IntegerValue);
        Assert.Equal(ulong.MaxValue, fields[2].UIntegerValue);
        Assert.True(fields[3].BooleanValue);
        Assert.Equal("café"u8, batch.Text(fields[4].Text));
        Assert.Equal("L7 cpu,host=a f:float=-1.5,i:integer=-9223372036854775808,u:unsigned=18446744073709551615,b:boolean=true,s:string=\"café\" 123", BatchText.Of(batch, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch[1]);
    }

    [Fact]
    public void Aborted_point_leaves_neither_entries_nor_text_behind()
    {
        var batch = new PointBatch(16);
        BatchText.Add(batch, "kept", 1, 1, [("k", "v")], ("v", 1.0));
        BatchMark before = batch.Mark();

        batch.BeginPoint("dropped"u8, 2);
        batch.AddTag(batch.AppendText("k"u8), batch.AppendText("v"u8));
        batch.AddString(batch.AppendText("s"u8), batch.AppendText("text"u8));
        batch.AbortPoint();

        Assert.Equal(before, batch.Mark());
        BatchText.Add(batch, "next", 3, 3, NoTags, ("v", 2.0));
        Assert.Equal(["L1 kept,k=v v:float=1 1", "L3 next v:float=2 3"], BatchText.Of(batch));
    }

    [Fact]
    public void Truncate_to_a_mark_forgets_what_came_after_it_and_the_batch_fills_on_from_there()
    {
        var batch = new PointBatch(16);
        BatchText.Add(batch, "kept", 1, 1, [("k", "v")], ("v", 1.0));
        BatchMark mark = batch.Mark();
        BatchText.Add(batch, "gone", 2, 2, [("k", "v")], ("s", "a string"));
        batch.BeginPoint("half"u8, 3);
        batch.AddFloat(batch.AppendText("v"u8), 3);

        batch.Truncate(mark);

        Assert.Equal(mark, batch.Mark());
        BatchText.Add(batch, "after", 4, 4, NoTags, ("v", 4.0));
        Assert.Equal(["L1 kept,k=v v:float=1 1", "L4 after v:float=4 4"], BatchText.Of(batch));

        batch.Reset();
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Truncate(mark));
    }

    [Fact]
    public void AppendFrom_shifts_text_tags_and_fields_past_what_the_target_holds_and_raises_line_numbers()
    {
        var target = new PointBatch(16);
        BatchText.Add(target, "first", 1, 10, [("host", "a")], ("v", 1.0), ("s", "x"));
        var source = new PointBatch(16);
        BatchText.Add(source, "second", 1, 20, [("host", "b"), ("rack", "r1")], ("v", 2L), ("empty", ""));
        BatchText.Add(source, "third", 2, 30, NoTags, ("on", false), ("u", 3UL));

        target.AppendFrom(source, lineOffset: 5);

        Assert.Equal(
            [
                "L1 first,host=a v:float=1,s:string=\"x\" 10",
                "L6 second,host=b,rack=r1 v:integer=2,empty:string=\"\" 20",
                "L7 third on:boolean=false,u:unsigned=3 30",
            ],
            BatchText.Of(target));
        Assert.Equal("firsthostavsx"u8.Length + source.TextBytes, target.TextBytes);
        Assert.Equal(["L1 second,host=b,rack=r1 v:integer=2,empty:string=\"\" 20", "L2 third on:boolean=false,u:unsigned=3 30"], BatchText.Of(source));
    }

    [Fact]
    public void AppendFrom_grows_every_array_of_a_small_target_and_keeps_the_points_it_had()
    {
        var target = new PointBatch(pointCapacity: 16, fieldsPerPoint: 4, textBytesPerPoint: 64, tagsPerPoint: 1);
        BatchText.Add(target, "early", 1, 1, NoTags, ("v", 0.5));
        var source = new PointBatch(16);
        var expected = new List<string> { "L1 early v:float=0.5 1" };
        string longText = new('x', 5_000);
        for (int i = 0; i < 300; i++)
        {
            (string, string)[] tags = [("a", $"t{i}"), ("b", "2"), ("c", "3")];
            (string, object)[] fields = [("f0", (double)i), ("f1", (long)i), ("f2", i % 2 == 0), ("f3", $"s{i}"), ("f4", (ulong)i), ("f5", i == 7 ? longText : "y")];
            BatchText.Add(source, "bulk", i + 1, i, tags, fields);
            expected.Add(BatchText.Of(source, i).Replace($"L{i + 1} ", $"L{i + 101} ", StringComparison.Ordinal));
        }

        long before = target.RetainedBytes;
        target.AppendFrom(source, lineOffset: 100);

        Assert.Equal(expected, BatchText.Of(target));
        Assert.Equal(1 + 300, target.Count);
        Assert.Equal(1 + (300 * 6), target.FieldValueCount);
        Assert.True(target.RetainedBytes > before);
    }

    [Fact]
    public void AppendFrom_an_empty_batch_changes_nothing()
    {
        var target = new PointBatch(16);
        BatchText.Add(target, "m", 1, 1, NoTags, ("v", 1.0));
        BatchMark before = target.Mark();

        target.AppendFrom(new PointBatch(16), lineOffset: 3);

        Assert.Equal(before, target.Mark());
    }

    [Fact]
    public void Renumber_gives_the_points_from_the_first_named_on_one_line_number()
    {
        var batch = new PointBatch(16);
        for (int i = 0; i < 4; i++)
        {
            BatchText.Add(batch, "m", i + 1, i, NoTags, ("v", (double)i));
        }

        batch.Renumber(firstPoint: 2, lineNumber: 9);

        Assert.Equal([1, 2, 9, 9], Enumerable.Range(0, 4).Select(i => batch[i].LineNumber));
    }

    /// <summary>
    /// The MQTT shared batch: each connection numbers its messages' points by ordinal in its own staging batch
    /// (<see cref="PointBatch.Renumber"/>), then moves them into the shared batch after the messages already there
    /// (<see cref="PointBatch.AppendFrom"/> with the count of those as offset), so a point's line number is its
    /// message's ordinal in the shared write.
    /// </summary>
    [Fact]
    public void Messages_staged_per_connection_keep_their_ordinals_in_the_shared_batch()
    {
        var shared = new PointBatch(16);
        int sharedMessages = 0;
        var connections = new[] { new PointBatch(16), new PointBatch(16) };
        var expected = new List<string>();
        for (int round = 0; round < 3; round++)
        {
            foreach (PointBatch staging in connections)
            {
                // Two messages per connection and round; a message's lines are renumbered to its ordinal.
                for (int message = 1; message <= 2; message++)
                {
                    int first = staging.Count;
                    for (int line = 1; line <= message; line++)
                    {
                        BatchText.Add(staging, $"r{round}", line, line, [("m", $"{message}")], ("v", (double)line));
                    }

                    staging.Renumber(first, message);
                }

                for (int p = 0; p < staging.Count; p++)
                {
                    expected.Add(BatchText.Of(staging, p).Replace($"L{staging[p].LineNumber} ", $"L{staging[p].LineNumber + sharedMessages} ", StringComparison.Ordinal));
                }

                shared.AppendFrom(staging, lineOffset: sharedMessages);
                sharedMessages += 2;
                staging.Reset();
            }
        }

        Assert.Equal(expected, BatchText.Of(shared));
        Assert.Equal(Enumerable.Range(1, 12).SelectMany(ordinal => Enumerable.Repeat(ordinal, ordinal % 2 == 1 ? 1 : 2)), Enumerable.Range(0, shared.Count).Select(i => shared[i].LineNumber));
    }

    [Fact]
    public void AppendPoint_copies_one_point_with_its_line_number_into_another_batch()
    {
        var source = new PointBatch(16);
        BatchText.Add(source, "skipped", 1, 1, NoTags, ("v", 1.0));
        BatchText.Add(source, "copied", 2, 2, [("host", "a")], ("s", "text"), ("i", 5L), ("empty", ""));
        var target = new PointBatch(16);
        BatchText.Add(target, "there", 9, 9, NoTags, ("v", 9.0));

        target.AppendPoint(source, 1);

        Assert.Equal(["L9 there v:float=9 9", "L2 copied,host=a s:string=\"text\",i:integer=5,empty:string=\"\" 2"], BatchText.Of(target));
    }

    [Theory]
    [InlineData("device")]
    [InlineData("Device")]
    [InlineData("DEVICE")]
    public void AppendPoint_with_a_tag_replaces_the_tag_of_that_key_in_any_letter_case_and_puts_it_last(string claimed)
    {
        var source = new PointBatch(16);
        BatchText.Add(source, "env", 4, 40, [("a", "1"), (claimed, "someone-else"), ("z", "2")], ("temp", 21.5));
        var target = new PointBatch(16);

        target.AppendPoint(source, 0, "device"u8, "truck-7"u8);

        Assert.Equal(["L4 env,a=1,z=2,device=truck-7 temp:float=21.5 40"], BatchText.Of(target));
    }

    [Fact]
    public void AppendPoint_with_a_tag_adds_it_to_a_point_that_has_none()
    {
        var source = new PointBatch(16);
        BatchText.Add(source, "env", 1, 1, NoTags, ("on", true));
        var target = new PointBatch(16);

        target.AppendPoint(source, 0, "device"u8, Encoding.UTF8.GetBytes("grüße"));

        Assert.Equal(["L1 env,device=grüße on:boolean=true 1"], BatchText.Of(target));
    }

    [Fact]
    public void Copying_points_with_a_device_tag_into_a_warm_batch_allocates_nothing()
    {
        var source = new PointBatch(16);
        for (int i = 0; i < 100; i++)
        {
            BatchText.Add(source, "readings", i + 1, i, [("name", $"truck_{i}"), ("device", "claimed"), ("fleet", "South")], ("lat", 52.5), ("status", (long)i), ("ok", true), ("note", "fine"), ("n", (ulong)i));
        }

        var target = new PointBatch(16);
        for (int warm = 0; warm < 3; warm++)
        {
            target.Reset();
            CopyAll(source, target);
        }

        target.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        CopyAll(source, target);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(200, target.Count);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void RetainedBytes_counts_the_arrays_capacity_not_what_is_in_use()
    {
        var batch = new PointBatch(16);
        long empty = batch.RetainedBytes;
        Assert.True(empty >= 16 * 64);

        BatchText.Add(batch, "m", 1, 1, NoTags, ("s", new string('x', 100_000)));
        long grown = batch.RetainedBytes;
        batch.Reset();

        Assert.True(grown > empty + 90_000, $"{empty} -> {grown}");
        Assert.Equal(grown, batch.RetainedBytes);
    }

    private static void CopyAll(PointBatch source, PointBatch target)
    {
        for (int i = 0; i < source.Count; i++)
        {
            target.AppendPoint(source, i, "device"u8, "truck-7"u8);
            target.AppendPoint(source, i);
        }
    }
}
