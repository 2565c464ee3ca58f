"""SR-IOV facts (read only): every PF with its VFs, their groups and drivers, and the NIC settings the
PF driver reports for each VF. Changing a PF's number of VFs is core.sriov's.

  read_sriov / with_sriov / with_holds / pf_of   core.sriovinfo.read
  parse_ip_link, live_sriov_nics, recorded_sriov_nics   core.sriovinfo.netinfo (netlink via `ip -j link`)
  sriov_json, vf_lines                          core.sriovinfo.format (the inventory's JSON and tree)
"""
