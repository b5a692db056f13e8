"""Drives Debian's cloud-init EC2 code as a library against a metadata URL.

Usage: cloud_init_client.py crawl URL       -- ec2.get_instance_metadata / get_instance_userdata
       cloud_init_client.py datasource URL  -- DataSourceEc2.crawl_metadata as on AWS (IMDSv2)
       cloud_init_client.py phone_home USER_DATA INSTANCE_ID HOSTNAME FQDN TRIES
           -- cc_phone_home.handle with the phone_home section of the USER_DATA file
Prints one JSON object on stdout.
"""

import json
import sys
import tempfile


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def crawl(url):
    from cloudinit.sources.helpers import ec2

    md = ec2.get_instance_metadata("2009-04-04", url, timeout=5, retries=0)
    ud = ec2.get_instance_userdata("2009-04-04", url, timeout=5, retries=0)
    return {"meta-data": md, "user-data": text(ud)}


def datasource(url):
    from cloudinit import helpers
    from cloudinit.sources import DataSourceEc2 as ds_mod

    tmp = tempfile.mkdtemp()
    sys_cfg = {
        "datasource": {
            "Ec2": {"metadata_urls": [url], "max_wait": 10, "timeout": 5, "retries": 0}
        }
    }
    ds = ds_mod.DataSourceEc2(
        sys_cfg, None, helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
    )
    # Behave as on AWS: IMDSv2 tokens first (PUT /latest/api/token).
    ds._cloud_name = ds_mod.CloudNames.AWS
    crawled = ds.crawl_metadata()
    crawled["user-data"] = text(crawled.get("user-data"))
    crawled["_token_held"] = bool(ds._api_token)
    return crawled


def phone_home(user_data, instance_id, hostname, fqdn, tries):
    """Runs cloud-init's phone_home module as cloud-init would after first boot, with a
    stand-in for the booted instance (its id and names); the HTTP POST is cloud-init's own.
    Returns the user-data's phone_home section and the status of each POST."""
    import logging

    from cloudinit import helpers, url_helper, util
    from cloudinit.config import cc_phone_home
    from cloudinit.sources import DataSourceHostname

    with open(user_data, encoding="utf-8") as f:
        cfg = util.load_yaml(f.read())
    cfg["phone_home"]["tries"] = int(tries)
    tmp = tempfile.mkdtemp()

    class Instance:
        paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})

        def get_instance_id(self):
            return instance_id

        def get_hostname(self, fqdn=False, metadata_only=False):
            return DataSourceHostname(fqdn_name if fqdn else hostname, False)

    fqdn_name = fqdn
    codes = []
    post = url_helper.read_file_or_url

    def recorded(url, **kwargs):
        try:
            resp = post(url, **kwargs)
        except url_helper.UrlError as e:
            codes.append(e.code)
            raise
        codes.append(resp.code)
        return resp

    cc_phone_home.url_helper.read_file_or_url = recorded
    cc_phone_home.handle("phone_home", cfg, Instance(), logging.getLogger("phone_home"), [])
    return {"phone_home": cfg["phone_home"], "codes": codes}


def main():
    mode = sys.argv[1]
    if mode == "phone_home":
        print(json.dumps(phone_home(*sys.argv[2:7]), sort_keys=True))
        return
    url = sys.argv[2]
    out = {"crawl": crawl, "datasource": datasource}[mode](url)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
