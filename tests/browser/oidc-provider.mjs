// A real OpenID provider for the staff app's browser tests: panva's
// oidc-provider, configured here (never a hand-written token endpoint).
// Its development login form takes any listed person's id as the login.
// Environment: OIDC_PORT, REDIRECT_URI, OIDC_ACCOUNTS (JSON: id -> claims).
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "registry-staff",
      client_secret: "registry-staff-test-secret",
      redirect_uris: [process.env.REDIRECT_URI],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  // The registry's roles travel in a `groups` claim, as Entra ID groups do,
  // and are mapped by REGISTRY_STAFF_ROLE_MAP.
  claims: { openid: ["sub"], profile: ["name", "groups"], email: ["email"] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: ["registry-browser-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
