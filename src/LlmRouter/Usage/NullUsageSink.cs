namespace LlmRouter.Usage;

/// <summary>Without a database there is nowhere to keep usage; said once at start-up, not per request.</summary>
internal sealed class NullUsageSink : IUsageSink
{
    public void Record(UsageRecord record)
    {
    }
}
