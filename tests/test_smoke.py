def test_home_page_in_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="zh-Hans"' in response.get_data(as_text=True)


def test_token_and_consultation_flow(demo, client, auth):
    headers = auth.headers("chair")
    response = client.post(
        "/api/v1/consultations", json={"community": "demo", "title": "Bins"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    cid = response.get_json()["id"]
    response = client.post(
        f"/api/v1/consultations/{cid}/participants",
        json={"username": "alice", "role": "voter"},
        headers=headers,
    )
    assert response.status_code == 200
    response = client.post(
        f"/api/v1/consultations/{cid}/transition", json={"to": "closed"}, headers=headers
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "illegal_transition"
