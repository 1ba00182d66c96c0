using System.Text.Json;
using LlmRouter.Auth;
using LlmRouter.Backends;
using LlmRouter.Completions;
using LlmRouter.Configuration;
using LlmRouter.Keys;
using LlmRouter.OpenAi;
using LlmRouter.Routing;
using Microsoft.AspNetCore.Http;

namespace LlmRouter.Tests.Unit;

/// <summary>What a keyed request reserves against its limits, and the answer cap sent upstream.</summary>
public sealed class CallFactoryTests
{
    private static readonly RouterConfig Config = ConfigLoader.Parse("""
        model_list:
          - model_name: chat
            litellm_params: { model: ollama_chat/llama3.1:8b, api_base: http://h:1 }
        general_settings:
          default_max_tokens: 4096
        """, "test.yaml", _ => null, _ => { });

    private static RoutedCall Create(string body, KeyRecord? key, Operation operation = Operation.Chat)
    {
        var factory = new CallFactory(Config.Router, Config.General, new ModelCatalog(Config), TimeProvider.System);
        using var json = JsonDocument.Parse(body);
        var request = ClientRequest.Parse(operation, json.RootElement);
        return factory.Create(new DefaultHttpContext(), request, json.RootElement, new RequestCaller(key));
    }

    private static KeyRecord Key(long? quota = null, long? tpm = null) =>
        new() { Id = Guid.NewGuid(), DisplayPrefix = "sk-test", MaxTokens = quota, TpmLimit = tpm, CreatedAt = DateTimeOffset.UtcNow };

    private const string Chat = """{"model":"chat","messages":[{"role":"user","content":"hello there"}]}""";

    [Fact]
    public void NoKey_NoCapAndNoReservation()
    {
        var call = Create(Chat, key: null);

        Assert.Null(call.MaxTokens);
        Assert.Null(call.KeyAdmission);
    }

    [Fact]
    public void ClientMaxTokens_IsReservedOnTopOfThePrompt()
    {
        var call = Create("""{"model":"chat","max_tokens":100,"messages":[{"role":"user","content":"hello there"}]}""", Key(quota: 10_000));

        Assert.Equal(100, call.MaxTokens);
        Assert.Equal(call.EstimatedPromptTokens + 100, call.KeyAdmission!.ReserveTokens);
    }

    [Fact]
    public void QuotaKeyWithoutMaxTokens_GetsTheDefaultCap()
    {
        var call = Create(Chat, Key(quota: 1_000_000));

        Assert.Equal(4096, call.MaxTokens);
    }

    [Fact]
    public void SmallQuota_CapLeavesRoomForThePrompt_SoTheRequestFits()
    {
        var call = Create(Chat, Key(quota: 500));

        Assert.Equal(500 - call.EstimatedPromptTokens, call.MaxTokens);
        Assert.Equal(500, call.KeyAdmission!.ReserveTokens);
    }

    [Fact]
    public void Embedding_ReservesOnlyTheInput()
    {
        var call = Create("""{"model":"chat","input":"some text"}""", Key(quota: 500), Operation.Embedding);

        Assert.Null(call.MaxTokens);
        Assert.Equal(call.EstimatedPromptTokens, call.KeyAdmission!.ReserveTokens);
    }
}
