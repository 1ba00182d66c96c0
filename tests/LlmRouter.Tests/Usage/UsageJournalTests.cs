using System.Collections.Concurrent;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Usage;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

/// <summary>
/// The crash journal on its own. Disposing one without <c>Start</c>ing a new one leaves its file as a killed process
/// leaves it: the mapping's pages were the page cache, and nothing is written on the way out.
/// </summary>
public sealed class UsageJournalTests
{
    private const long Small = 64 * 1024;

    [Fact]
    public void ProcessDiesBeforeTheBatchesLand_NextOpenHasEveryRowNotMarkedDone_InOrder()
    {
        var path = JournalPath();
        var rows = Rows(100);
        using (var journal = Started(path, 4 * 1024 * 1024))
        {
            var marks = rows.Select(journal.Append).ToList();
            Assert.All(marks, m => Assert.True(m > 0));
            foreach (var mark in marks.Take(40)) journal.MarkDone(mark);
            journal.Advance();
        }

        using (var reopened = UsageJournal.Open(path, 4 * 1024 * 1024))
        {
            Assert.Equal(rows.Skip(40).Select(r => r.Id), reopened.Pending.Select(r => r.Id));
            Assert.Equal(rows[70], reopened.Pending[30]);
            Assert.Equal(0, reopened.Unreadable);
            reopened.Start();
        }

        // Once started afresh (the caller has put the rows elsewhere), they are not found again.
        using var third = UsageJournal.Open(path, 4 * 1024 * 1024);
        Assert.Empty(third.Pending);
    }

    [Fact]
    public void ManyLapsOfASmallRing_OnlyTheRowsStillWaitingAreRecovered()
    {
        var path = JournalPath();
        var rows = Rows(3_000);
        var waiting = new List<UsageRecord>();
        using (var journal = Started(path, Small))
        {
            var marks = new Queue<long>();
            foreach (var row in rows)
            {
                var mark = journal.Append(row);
                Assert.True(mark > 0, "the ring is full although rows are marked done as they come");
                marks.Enqueue(mark);
                // Batches of 25 land; the last 20 rows never do.
                if (marks.Count == 25 && row != rows[^1])
                {
                    while (marks.Count > 0) journal.MarkDone(marks.Dequeue());
                    journal.Advance();
                }
            }
            waiting.AddRange(rows.TakeLast(marks.Count));
        }

        using var reopened = UsageJournal.Open(path, Small);
        Assert.Equal(waiting.Select(r => r.Id), reopened.Pending.Select(r => r.Id));
    }

    [Fact]
    public void RowWaitingAtTheTail_FillsTheRing_ThenRowsGoWithout_UntilItLands()
    {
        using var journal = Started(JournalPath(), Small);
        var rows = Rows(1_000);
        var marks = new List<long>();
        for (var mark = journal.Append(rows[0]); mark > 0; mark = journal.Append(rows[marks.Count])) marks.Add(mark);
        Assert.InRange(marks.Count, 64 * 1024 / 512, 64 * 1024 / 256);
        Assert.Equal(1, journal.Full);

        // Every row but the first lands; the space comes back only once the first one does too.
        foreach (var mark in marks.Skip(1)) journal.MarkDone(mark);
        journal.Advance();
        Assert.Equal(0, journal.Append(rows[^1]));
        Assert.Equal(2, journal.Full);
        journal.MarkDone(marks[0]);
        journal.Advance();
        Assert.True(journal.Append(rows[^1]) > 0);
    }

    /// <summary>
    /// The second record as a dying process left it: space reserved but never written (its position field holds what
    /// was there before), or cut short (the header written with state 0, the payload being copied).
    /// </summary>
    /// <param name="field">Where in the record's header the bytes go: its position (0) or its state (12).</param>
    [Theory]
    [InlineData(0, 12345L, 8)]
    [InlineData(12, 0L, 4)]
    public void RecordADyingProcessLeftUnfinished_IsNotRecovered_TheRowsAfterItAre(int field, long value, int size)
    {
        var path = JournalPath();
        var rows = Rows(3);
        long[] marks;
        using (var journal = Started(path, Small))
        {
            marks = rows.Select(journal.Append).ToArray();
        }
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 4096 + (marks[1] - 1) % Small + field;
            file.Write(BitConverter.GetBytes(value).AsSpan(0, size));
        }

        using var reopened = UsageJournal.Open(path, Small);
        Assert.Equal([rows[0].Id, rows[2].Id], reopened.Pending.Select(r => r.Id));
    }

    [Fact]
    public void FileWhoseHeaderDoesNotRead_IsStartedAfresh_NothingItHeldPassesForARecord()
    {
        var path = JournalPath();
        using (var journal = Started(path, Small))
        {
            foreach (var row in Rows(10)) journal.Append(row);
        }
        // The header torn or cleared (a kill as it was rewritten): the old records are still there, at the very
        // positions a fresh ring hands out first.
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Write(new byte[8]);
        }
        using (var fresh = UsageJournal.Open(path, Small))
        {
            Assert.Empty(fresh.Pending);
            fresh.Start();
        }

        using var reopened = UsageJournal.Open(path, Small);
        Assert.Empty(reopened.Pending);
    }

    [Fact]
    public void AfterDispose_AppendGoesWithout_AndNothingThrows()
    {
        var journal = Started(JournalPath(), Small);
        var mark = journal.Append(Rows(1)[0]);
        journal.Dispose();

        Assert.Equal(0, journal.Append(Rows(1)[0]));
        journal.MarkDone(mark);
        journal.Advance();
        Assert.Equal(1, journal.Full);
    }

    [Fact]
    public void RowsThatDifferOnlyInTheirJournalMark_AreEqual()
    {
        var row = Rows(1)[0];
        var marked = row with { };
        marked.JournalMark = 12345;

        Assert.Equal(row, marked);
        Assert.Equal(row.GetHashCode(), marked.GetHashCode());
        Assert.Equal(12345, marked.JournalMark);
    }

    [Fact]
    public void JournalInUse_ASecondOpenIsRefused()
    {
        var path = JournalPath();
        using var journal = Started(path, Small);
        Assert.ThrowsAny<IOException>(() => UsageJournal.Open(path, Small));
    }

    [Fact]
    public void ResizedBetweenRuns_RowsOfTheOldSizeAreRecovered_TheNewSizeIsUsed()
    {
        var path = JournalPath();
        var rows = Rows(10);
        using (var journal = Started(path, Small))
        {
            foreach (var row in rows) journal.Append(row);
        }
        using (var bigger = UsageJournal.Open(path, 4 * Small))
        {
            Assert.Equal(rows.Select(r => r.Id), bigger.Pending.Select(r => r.Id));
            bigger.Start();
            Assert.Equal(4096 + 4 * Small, new FileInfo(path).Length);
            bigger.Append(rows[0]);
        }
        using var again = UsageJournal.Open(path, Small);
        Assert.Equal([rows[0].Id], again.Pending.Select(r => r.Id));
    }

    [Fact]
    public async Task FourThreadsAppend_WhileBatchesLandOutOfOrder_ExactlyTheRowsNotLandedAreRecovered()
    {
        var path = JournalPath();
        var rows = Rows(8_000);
        var appended = new ConcurrentQueue<long>();
        var refusals = 0;
        var late = new List<long>();
        using (var journal = Started(path, Small))
        {
            var done = 0;
            // Each row waits for room when the ring is full, so all of them go through it: about 50 laps.
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (var i = w; i < rows.Count; i += 4)
                {
                    long mark;
                    while ((mark = journal.Append(rows[i])) == 0)
                    {
                        Interlocked.Increment(ref refusals);
                        await Task.Yield();
                    }
                    rows[i].JournalMark = mark;
                    appended.Enqueue(mark);
                }
                Interlocked.Increment(ref done);
            })).ToArray();
            // The writer's side: takes what is there, lands half of each batch at once (last first) and the rest
            // with the next batch, so rows land out of the order they were appended in.
            while (Volatile.Read(ref done) < 4 || !appended.IsEmpty)
            {
                var batch = new List<long>();
                while (batch.Count < 50 && appended.TryDequeue(out var mark)) batch.Add(mark);
                foreach (var mark in late) journal.MarkDone(mark);
                late.Clear();
                batch.Reverse();
                foreach (var mark in batch.Take(batch.Count / 2)) journal.MarkDone(mark);
                late.AddRange(batch.Skip(batch.Count / 2));
                journal.Advance();
                if (batch.Count == 0) await Task.Yield();
            }
            await Task.WhenAll(writers);
            Assert.Equal(refusals, journal.Full);
        }

        using var reopened = UsageJournal.Open(path, Small);
        var notLanded = late.ToHashSet();
        Assert.Equal(rows.Where(r => notLanded.Contains(r.JournalMark)).Select(r => r.Id).Order(), reopened.Pending.Select(r => r.Id).Order());
    }

    private static UsageJournal Started(string path, long capacity)
    {
        var journal = UsageJournal.Open(path, capacity);
        Assert.Empty(journal.Pending);
        journal.Start();
        return journal;
    }

    private static string JournalPath() => TestTemp.NewPath("journal");
}
