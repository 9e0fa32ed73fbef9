from tests.support import TenantHandle


async def test_health_reports_every_dependency(client):
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "storage": "ok"}


async def test_new_tenant_admin_can_see_itself(tenant: TenantHandle):
    response = await tenant.get("/api/v1/auth/me")
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert response.json()["tenant_id"] == tenant.id
