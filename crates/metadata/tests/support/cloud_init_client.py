"""Drives Debian's cloud-init EC2 code as a library against a metadata URL.

Usage: cloud_init_client.py crawl URL       -- ec2.get_instance_metadata / get_instance_userdata
       cloud_init_client.py datasource URL  -- DataSourceEc2.crawl_metadata as on AWS (IMDSv2)
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


def main():
    mode, url = sys.argv[1], sys.argv[2]
    out = {"crawl": crawl, "datasource": datasource}[mode](url)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
