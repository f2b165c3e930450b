/* placeholder: nft_encode.c is being written */
typedef int kw_placeholder_nft_encode;
