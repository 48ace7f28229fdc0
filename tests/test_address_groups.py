from parley.net.groups import limit_key


def test_ipv6_addresses_of_one_64_share_a_key() -> None:
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")


def test_the_prefix_can_be_narrowed_to_single_addresses() -> None:
    assert limit_key("2001:db8::1", ipv6_prefix=128) != limit_key("2001:db8::2", ipv6_prefix=128)


def test_ipv4_and_mapped_ipv4_are_the_same_single_address() -> None:
    assert limit_key("10.0.0.1") == limit_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert limit_key("10.0.0.1") != limit_key("10.0.0.2")


def test_non_addresses_are_their_own_key() -> None:
    assert limit_key("unknown") == "unknown"
    assert limit_key("") == ""
