using RelayCluster.Silo.Http;

namespace RelayCluster.Tests.Host;

/// <summary>Request ids are drawn from a per-thread block of random bytes: each must still be a fresh version-4 GUID.</summary>
public sealed class RequestIdTests
{
    [Fact]
    public void Request_ids_are_distinct_version_4_guids_across_several_random_blocks()
    {
        // 256 ids use one 4 KiB block: 2,000 cross several refills.
        var ids = Enumerable.Range(0, 2_000).Select(_ => RequestIdMiddleware.NewId()).ToList();

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id =>
        {
            Assert.Matches("^req_[0-9a-f]{32}$", id);
            var guid = Guid.ParseExact(id[4..], "N");
            Assert.Equal(4, guid.Version);
            Assert.Equal(0b10, guid.Variant >> 2); // RFC 9562: the variant's two high bits are 10
        });
    }
}
