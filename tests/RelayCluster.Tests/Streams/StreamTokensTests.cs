using RelayCluster.Core.Streams;
using RelayCluster.Tests.Infrastructure;

namespace RelayCluster.Tests.Streams;

public sealed class StreamTokensTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    private StreamTokens Tokens(TokenSecrets secrets) => new(secrets, _clock);

    [Fact]
    public void A_token_grants_its_tenant_and_stream_until_it_expires()
    {
        var secrets = new TokenSecrets(TokenSecrets.NewKey(), null);
        var tokens = Tokens(secrets);
        var (token, expiresAt) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));

        Assert.Equal(new StreamGrant("acme", "strm_1", expiresAt), tokens.Validate(token));
        Assert.Equal(new StreamGrant("acme", "strm_1", expiresAt), Tokens(secrets).Validate(token)); // another silo

        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(tokens.Validate(token));
    }

    [Fact]
    public void Forged_altered_and_malformed_tokens_grant_nothing()
    {
        var tokens = Tokens(TokenSecrets.FromText("shared-secret-of-at-least-32-characters"));
        var (token, _) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));
        var (other, _) = Tokens(TokenSecrets.FromText("someone else's secret of 32+ characters")).Issue("acme", "strm_1", TimeSpan.FromMinutes(10));
        var (victim, _) = tokens.Issue("globex", "strm_2", TimeSpan.FromMinutes(10));
        var spliced = victim[..victim.IndexOf('.', StringComparison.Ordinal)] + token[token.IndexOf('.', StringComparison.Ordinal)..];

        Assert.Null(tokens.Validate(other));
        Assert.Null(tokens.Validate(spliced));
        Assert.Null(tokens.Validate(token[..^2] + "AA"));
        Assert.Null(tokens.Validate("not-a-token"));
        Assert.Null(tokens.Validate(null));
        Assert.Null(tokens.Validate("...."));
    }

    [Fact]
    public void After_a_rotation_tokens_of_the_previous_key_still_validate_and_older_ones_do_not()
    {
        var first = new TokenSecrets(TokenSecrets.NewKey(), null);
        var tokens = Tokens(first);
        var (before, _) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));

        var second = first.Rotate(TokenSecrets.NewKey());
        tokens.Use(second);
        var (after, _) = tokens.Issue("acme", "strm_1", TimeSpan.FromMinutes(10));
        Assert.NotNull(tokens.Validate(before));
        Assert.NotNull(tokens.Validate(after));
        Assert.Null(Tokens(first).Validate(after)); // new tokens are signed with the new key, not the old one

        tokens.Use(second.Rotate(TokenSecrets.NewKey()));
        Assert.Null(tokens.Validate(before)); // two rotations ago
        Assert.NotNull(tokens.Validate(after));
    }

    [Fact]
    public void Configured_secrets_rotate_by_moving_the_old_one_to_previous()
    {
        const string Old = "the-old-token-secret-0123456789abcdef";
        const string New = "the-new-token-secret-fedcba9876543210";
        var (issued, _) = Tokens(TokenSecrets.FromText(Old)).Issue("acme", "strm_1", TimeSpan.FromMinutes(10));

        Assert.NotNull(Tokens(TokenSecrets.FromText(New, previous: Old)).Validate(issued));
        Assert.Null(Tokens(TokenSecrets.FromText(New)).Validate(issued));
    }
}
