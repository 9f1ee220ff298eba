using RelayCluster.Core.Streams;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Streams;

public sealed class StreamTokensTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public void A_token_grants_its_tenant_and_stream_until_it_expires()
    {
        var tokens = StreamTokens.FromSecret("shared", _clock);
        var (token, expiresAt) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));

        Assert.Equal(new StreamGrant("acme", "strm_1", expiresAt), tokens.Validate(token));
        Assert.Equal(new StreamGrant("acme", "strm_1", expiresAt), StreamTokens.FromSecret("shared", _clock).Validate(token)); // another silo

        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(tokens.Validate(token));
    }

    [Fact]
    public void Forged_altered_and_malformed_tokens_grant_nothing()
    {
        var tokens = StreamTokens.FromSecret("shared", _clock);
        var (token, _) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));
        var (other, _) = StreamTokens.FromSecret("someone else's", _clock).Issue("acme", "strm_1", TimeSpan.FromMinutes(10));
        var (victim, _) = tokens.Issue("globex", "strm_2", TimeSpan.FromMinutes(10));
        var spliced = victim[..victim.IndexOf('.', StringComparison.Ordinal)] + token[token.IndexOf('.', StringComparison.Ordinal)..];

        Assert.Null(tokens.Validate(other));
        Assert.Null(tokens.Validate(spliced));
        Assert.Null(tokens.Validate(token[..^2] + "AA"));
        Assert.Null(tokens.Validate("not-a-token"));
        Assert.Null(tokens.Validate(null));
        Assert.Null(tokens.Validate("...."));
    }
}
