using LlmRouter.Hosting;

namespace LlmRouter.Tests.Unit;

public sealed class IdsTests
{
    [Fact]
    public void NewVersion7_CarriesVersionVariantAndTime()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

        var id = Ids.NewVersion7(now);

        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2);
        Assert.StartsWith(now.ToUnixTimeMilliseconds().ToString("x12"), id.ToString("N"), StringComparison.Ordinal);
    }

    [Fact]
    public void NewVersion7_LaterTime_SortsAfter()
    {
        var earlier = Ids.NewVersion7(DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_000));
        var later = Ids.NewVersion7(DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_001));

        Assert.True(string.CompareOrdinal(earlier.ToString("N"), later.ToString("N")) < 0);
    }

    [Fact]
    public void NewHex_ManyIds_AreDistinctVersion4()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => Ids.NewHex()).ToArray();

        Assert.Equal(ids.Length, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id =>
        {
            Assert.Equal(32, id.Length);
            Assert.Equal(4, Guid.ParseExact(id, "N").Version);
        });
    }
}
