module example.com/sdkcampaigns/sample

go 1.19
