/* placeholder: killer_nft.c is being written */
typedef int kw_placeholder_killer_nft;
